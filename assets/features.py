"""Features stage: content signals per message, the training table (content + behaviour + label),
and the serving snapshot of the baselines."""

import dagster as dg
import pyarrow as pa
from pydantic import Field

from assets.baselines import BEHAVIOUR_MART, SNAPSHOT_MODELS, WAREHOUSE_POOL
from assets.resources import LakeResource, WarehouseResource, WorkDirResource, handoff_failures
from detection import storage
from detection.features.behaviour import BEHAVIOUR_FEATURES, SNAPSHOT_TABLES
from detection.features.terms import DEFAULT_TERMS_VERSION, TERMS_VERSION_COLUMN, TERMS_VERSIONS
from detection.features.vector import (
    MESSAGE_FEATURES,
    feature_workers,
    files_content_frame,
    join_behaviour,
)
from detection.mail.lake import message_files
from detection.model.training import TrainingError, split_labels

GROUP = "features"


class MessageFeaturesConfig(dg.Config):
    terms_version: int = Field(
        default=DEFAULT_TERMS_VERSION,
        description="the content signals' term families to count (detection.features.terms): 1, "
        "English; 2, with German, Dutch, French, Spanish, Portuguese and Italian. The model "
        "trained on these rows records it and is scored with it",
    )


class TrainingTableConfig(dg.Config):
    validation_days: int = Field(
        default=7, description="days after the training days, where the threshold is chosen"
    )
    test_days: int = Field(default=7, description="latest days held out for evaluation")


# Declarative automation: when new mail lands and its baselines are built (ingest_job, the drop
# sensor), the features follow by themselves (feature_automation_sensor); retraining stays
# behind the schedule and the drift sensor, and deployment behind the gate.
# Dagster's eager condition without its "no dependency partition missing" clause: the mail's
# daily partitions run to today while mail exists only for the days landed, so with the clause
# the features would never refresh (every tick "not requested" for ~hundreds of missing days). A
# refresh follows an update of any dependency; a day still missing simply has no mail yet.
NEW_MAIL = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .with_label("after new mail (missing days allowed)")
)


@dg.asset(
    group_name=GROUP,
    deps=["raw_messages"],
    kinds={"python", "parquet"},
    automation_condition=NEW_MAIL,
)
def message_features(
    context: dg.AssetExecutionContext,
    config: MessageFeaturesConfig,
    lake_store: LakeResource,
    work_dir: WorkDirResource,
) -> dg.MaterializeResult:
    """Content signals of every message (detection.features.signals.content_signals: the same
    function the online scorer uses), one row per message, with tenant, arrival time and label."""
    files = message_files(lake_store.lake)
    if not files:
        raise dg.Failure(
            f"no mail under {lake_store.lake}/messages; materialise raw_messages first"
        )
    if config.terms_version not in TERMS_VERSIONS:
        raise dg.Failure(
            f"terms_version {config.terms_version}: this release counts term families versions "
            f"{list(TERMS_VERSIONS)}; choose one of them"
        )
    frame = files_content_frame(files, feature_workers(), config.terms_version)
    # the term families counted, carried with the rows to the training table and the bundle
    frame[TERMS_VERSION_COLUMN] = config.terms_version
    path = work_dir.open().message_features
    storage.write_frame(frame, path)
    context.log.info(f"content signals for {len(frame)} messages written to {path}")
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "path": dg.MetadataValue.path(str(path)),
            "features": len(MESSAGE_FEATURES),
            "terms_version": config.terms_version,
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[message_features, BEHAVIOUR_MART],
    automation_condition=NEW_MAIL,
    kinds={"python", "parquet"},
    pool=WAREHOUSE_POOL,
)
def training_table(
    context: dg.AssetExecutionContext,
    config: TrainingTableConfig,
    work_dir: WorkDirResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Content signals and structure features joined with the point-in-time behavioural features
    and the labels, and each labelled row's part of the time split (``split``: train, validation,
    test), which every training and evaluation stage reads. Grain: one row per message."""
    work = work_dir.open()
    with handoff_failures():
        content = work.read_message_features()
    behaviour = warehouse.read(
        f"select message_id, {', '.join(BEHAVIOUR_FEATURES)} from {BEHAVIOUR_MART.path[-1]}"
    )
    table = join_behaviour(content, behaviour)
    if len(table) != len(content):
        raise dg.Failure(
            f"{len(content) - len(table)} messages have content signals but no behavioural row; "
            "the warehouse is stale. Materialise the dbt assets and this asset in the same run."
        )
    labelled = table["label"].notna().to_numpy()
    try:
        split = split_labels(
            table.loc[labelled].reset_index(drop=True), config.validation_days, config.test_days
        )
    except TrainingError as exc:
        raise dg.Failure(str(exc)) from exc
    table["split"] = None
    table.loc[labelled, "split"] = split
    path = work.training_table
    storage.write_frame(table, path)
    context.log.info(f"training table with {len(table)} rows written to {path}")
    return dg.MaterializeResult(
        metadata={
            "rows": len(table),
            "attacks": int(table["is_attack"].to_numpy().sum()),
            "labelled": int(labelled.sum()),
            "rows_by_split": dg.MetadataValue.json(
                {str(k): int(v) for k, v in table["split"].value_counts().items()}
            ),
            "path": dg.MetadataValue.path(str(path)),
            "window": dg.MetadataValue.json(
                {"start": str(table["received_at"].min()), "end": str(table["received_at"].max())}
            ),
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=list(SNAPSHOT_MODELS.values()),
    automation_condition=NEW_MAIL,
    kinds={"python", "parquet"},
    pool=WAREHOUSE_POOL,
)
def baseline_snapshot(
    context: dg.AssetExecutionContext, work_dir: WorkDirResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The latest per-key behavioural aggregates the online scorer needs, as parquet: it goes
    into the deployed bundle so the scorer computes the same features as the mart."""
    work, counts = work_dir.open(), {}
    for name, key in SNAPSHOT_MODELS.items():
        schema = SNAPSHOT_TABLES[name]
        columns = ", ".join(schema.names)  # ordered, so the same data gives the same bytes
        frame = warehouse.read(f"select {columns} from {key.path[-1]} order by {columns}")
        table = pa.Table.from_pandas(frame, preserve_index=False).cast(schema)
        storage.write_table(table, work.snapshot_table(name))
        counts[name] = table.num_rows
    context.log.info(f"baseline snapshot written: {counts}")
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.json(counts),
            "path": dg.MetadataValue.path(str(work.snapshot)),
        }
    )
