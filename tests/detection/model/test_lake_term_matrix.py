"""The text model's term matrix read from the lake: streamed in batches, in the training table's
order whatever the lake's, repeated texts stored once, and a clear error for a message that is
not in the lake."""

from datetime import date

import numpy as np
import pytest

from detection.features.text import terms_of
from detection.handoff import HandoffError
from detection.mail import lake
from detection.mail.parsing import parse_message
from detection.mail.schema import Message, messages_to_tables
from detection.model.text_training import TermMatrix, lake_term_matrix

SUBJECTS = ["Verify your account", "Lunch", "Invoice attached", "Lunch"]  # one repeat


def _messages(day: int) -> list[Message]:
    return [
        parse_message(
            (
                f"From: s{i}@example.org\r\nTo: r@example.com\r\nSubject: {subject}\r\n"
                f"Date: Mon, {day} Jan 2026 10:0{i}:00 +0000\r\n\r\n"
                f"See https://x{i}.example/a\r\n"
            ).encode(),
            tenant_id="acme",
        )
        for i, subject in enumerate(SUBJECTS)
    ]


def test_the_tables_order_and_one_row_per_distinct_text(tmp_path):
    first, second = _messages(5), _messages(6)
    lake.write_day(tmp_path, date(2026, 1, 5), messages_to_tables(first))
    lake.write_day(tmp_path, date(2026, 1, 6), messages_to_tables(second))
    everything = first + second
    order = [everything[i] for i in (7, 0, 3, 5, 1, 6, 2, 4)]
    matrix = lake_term_matrix([m.message_id for m in order], tmp_path)
    expected = TermMatrix.build([terms_of(m.subject, m.body_text) for m in order])
    assert len(matrix) == len(order)
    # the URL is masked, so the same subject is the same text: three distinct documents
    assert matrix.counts.shape[0] == 3
    positions = np.arange(len(order))
    ours = matrix.rows(positions).toarray()
    theirs = expected.rows(positions).toarray()
    ours_by_term = {t: ours[:, j].tolist() for j, t in enumerate(matrix.terms)}
    assert ours_by_term == {t: theirs[:, j].tolist() for j, t in enumerate(expected.terms)}

    with pytest.raises(HandoffError, match="not in the lake"):
        lake_term_matrix([order[0].message_id, "missing-id"], tmp_path)
