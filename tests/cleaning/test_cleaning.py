import random

import pytest
from support import write_corpus

from ragkit import CleaningConfig, Document, KBConfig, KnowledgeBase, Outcome
from ragkit.cleaning import Cleaner, minhash
from ragkit.cleaning.normalize import normalize_text
from ragkit.cleaning.quality import low_information_reason
from ragkit.errors import ConfigError, IngestError, SkipCode
from ragkit.records import ElementKind

QUALITY = dict(min_chars=10, max_duplicate_line_fraction=0.7, min_word_entropy=2.0, min_alphanumeric_fraction=0.25)


def test_normalize_repairs_mojibake_markup_controls_and_whitespace():
    assert normalize_text("CafÃ© crÃ¨me â€” donâ€™t") == "Café crème — don’t"
    assert normalize_text("Fish &amp; chips<br>are <b>great</b>") == "Fish & chips\nare great"
    assert normalize_text("zero\u200bwidth\x00 and\x07 bell\ufeff") == "zerowidth and bell"
    assert normalize_text("  many   spaces\t\there \r\n\r\n\r\n\r\nnext\u00a0para  ") == "many spaces here\n\nnext para"
    assert normalize_text("e\u0301t\u00e9") == "\u00e9t\u00e9"  # NFC


def test_normalize_keeps_what_is_not_broken():
    for text in ["List<String> x = a < b ? c : d;", "“Curly” quotes stay", "北京，你好！", "Ｆｕｌｌ width"]:
        assert normalize_text(text) == text


def test_low_information_filter_is_conservative():
    assert low_information_reason("Short.", **QUALITY).startswith("only 6 characters")
    assert "repeated lines" in low_information_reason("Click here\n" * 20, **QUALITY)
    assert "word entropy" in low_information_reason("buy now " * 40, **QUALITY)
    assert "letters or digits" in low_information_reason("-=*#" * 30, **QUALITY)
    for fine in ["The cafeteria opens at 7:30 every weekday.", "Q1 2024: 1,234.5\nQ2 2024: 1,301.0\nQ3 2024: 1,288.2",
                 "北京是中华人民共和国的首都。"]:
        assert low_information_reason(fine, **QUALITY) is None


def test_cleaner_cleans_elements_and_drops_page_furniture():
    document = Document.from_elements("a.pdf", [
        ("ACME Corp — Confidential", ElementKind.HEADER, {"page": 1}),
        ("Results  &amp; outlook", ElementKind.TITLE, {"page": 1, "depth": 0}),
        ("Revenue grew by 12 % in the year.", ElementKind.TEXT, {"page": 1}),
        ("Page 1", ElementKind.FOOTER, {"page": 1}),
    ], {})
    cleaned = Cleaner(CleaningConfig()).clean(document)
    assert cleaned.text == "Results & outlook\n\nRevenue grew by 12 % in the year."
    assert [(e.kind, e.page, e.depth, cleaned.text[e.start:e.end]) for e in cleaned.elements] == [
        (ElementKind.TITLE, 1, 0, "Results & outlook"),
        (ElementKind.TEXT, 1, None, "Revenue grew by 12 % in the year.")]
    with pytest.raises(IngestError) as refused:
        Cleaner(CleaningConfig()).clean(Document("b.txt", "spam spam\n" * 30))
    assert refused.value.code is SkipCode.LOW_INFORMATION
    assert Cleaner(CleaningConfig(enabled=False)).clean(Document("b.txt", "x")).text == "x"


def test_minhash_estimates_jaccard_within_a_few_points():
    rng = random.Random(3)
    words = [f"w{i}" for i in range(3000)]
    a_perm, b_perm = minhash.permutations(256)
    for overlap in (0.2, 0.5, 0.8, 0.95):
        base = rng.sample(words, 400)
        shared = base[: int(400 * overlap)]
        other = shared + rng.sample([w for w in words if w not in base], 400 - len(shared))
        exact = len(set(base) & set(other)) / len(set(base) | set(other))
        estimate = minhash.estimated_jaccard(minhash.signature(set(base), a_perm, b_perm),
                                             minhash.signature(set(other), a_perm, b_perm))
        assert abs(estimate - exact) < 0.08, (overlap, exact, estimate)


def test_cleaning_config_validates():
    with pytest.raises(ConfigError, match="bands dividing num_perm"):
        CleaningConfig(num_perm=100, bands=32)
    with pytest.raises(ConfigError, match="near_duplicate_threshold"):
        CleaningConfig(near_duplicate_threshold=0)


ABSTRACT = ("Background: resistance training improves muscle strength in older adults, but its effect on bone "
            "density is less clear. Methods: we randomised 120 participants aged 65 to 80 to twelve months of "
            "supervised training or usual care and measured hip and spine density by absorptiometry. Results: "
            "spine density rose by 1.8 percent with training and fell by 0.6 percent with usual care. "
            "Conclusion: supervised resistance training can slow bone loss in later life.")


def test_duplicates_and_junk_are_skipped_with_reasons_counted_in_the_report(tmp_path, embedder):
    near = ABSTRACT.replace("120 participants", "118 participants").replace("1.8 percent", "1.9 percent")
    docs = write_corpus(tmp_path / "docs", {
        "a-original.txt": ABSTRACT,
        "b-copy.txt": ABSTRACT,
        "c-reformatted.txt": "  " + ABSTRACT.replace(". ", ".   ") + "\n\n\n",  # same text after cleaning
        "d-near.txt": near,
        "e-spam.txt": "BUY NOW\n" * 50,
        "f-other.txt": "The cafeteria opens at 7:30 every weekday and closes at 15:00 on Fridays.",
    })
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest(docs)
        outcomes = {item.source.rsplit("/", 1)[1]: (item.outcome, item.code) for item in report.items}
        assert outcomes == {
            "a-original.txt": (Outcome.ADDED, None),
            "b-copy.txt": (Outcome.SKIPPED, SkipCode.EXACT_DUPLICATE),
            "c-reformatted.txt": (Outcome.SKIPPED, SkipCode.EXACT_DUPLICATE),
            "d-near.txt": (Outcome.SKIPPED, SkipCode.NEAR_DUPLICATE),
            "e-spam.txt": (Outcome.SKIPPED, SkipCode.LOW_INFORMATION),
            "f-other.txt": (Outcome.ADDED, None),
        }
        counts = report.skipped_by_code()
        assert counts["exact_duplicate"]["count"] == 2 and counts["near_duplicate"]["count"] == 1
        assert "a-original.txt (estimated Jaccard similarity" in counts["near_duplicate"]["examples"][0]
        # Duplicates are found against what is already indexed, too, and deleting the original frees the copy.
        (docs / "g-later-copy.txt").write_text(ABSTRACT)
        assert kb.ingest(docs / "g-later-copy.txt").items[0].code is SkipCode.EXACT_DUPLICATE
        kb.delete(str(docs / "a-original.txt"))
        assert kb.ingest(docs / "g-later-copy.txt").items[0].outcome is Outcome.ADDED


def test_cleaning_can_be_turned_off(tmp_path, embedder):
    config = KBConfig(cleaning=CleaningConfig(enabled=False))
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=embedder) as kb:
        report = kb.ingest([Document("a", ABSTRACT), Document("b", ABSTRACT), Document("c", "x &amp; y  z")])
        assert report.counts()["added"] == 3
        assert kb.search("x y z", k=1, mode="sparse")[0].text == "x &amp; y  z"


def _lsh_rows(kb_dir):
    import sqlite3

    with sqlite3.connect(kb_dir / "registry.sqlite") as db:
        return tuple(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in ("lsh", "minhash"))


def test_near_duplicates_are_found_in_the_registry_and_its_band_rows_follow_updates_deletes_and_migration(
        tmp_path, embedder):
    import sqlite3

    near = ABSTRACT.replace("120 participants", "118 participants").replace("1.8 percent", "1.9 percent")
    other = "The cafeteria opens at 7:30 every weekday and closes at 15:00 on Fridays, and at noon in August."
    bands = CleaningConfig().bands
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest([Document("a", ABSTRACT), Document("b", other)])
        assert _lsh_rows(tmp_path / "kb") == (2 * bands, 2)
        assert kb.ingest([Document("c", near)]).items[0].code is SkipCode.NEAR_DUPLICATE  # found via the registry
        third = ("Parking permits for the north garage are renewed each January through the facilities portal. "
                 "Staff who cycle can claim a locker in the basement of building C, next to the showers. Visitors "
                 "park in the south lot and sign in at reception, where they receive a day badge valid until 18:00. "
                 "Electric vehicle chargers on level two are free for the first four hours of every working day.")
        assert kb.ingest([Document("a", third)]).items[0].outcome is Outcome.UPDATED  # replaces a's bands
        assert _lsh_rows(tmp_path / "kb") == (2 * bands, 2)
        assert kb.ingest([Document("c", near)]).items[0].outcome is Outcome.ADDED
        kb.delete("c")
        assert _lsh_rows(tmp_path / "kb") == (2 * bands, 2)

    # A knowledge base written by the first registry layout (three rows and two indexes per band) is migrated on open.
    with sqlite3.connect(tmp_path / "kb" / "registry.sqlite") as db:
        db.executescript(
            "CREATE TABLE signatures (doc_id TEXT PRIMARY KEY, signature BLOB NOT NULL);"
            "CREATE TABLE lsh_buckets (band INTEGER NOT NULL, bucket INTEGER NOT NULL, doc_id TEXT NOT NULL);"
            "INSERT INTO signatures SELECT doc_id, signature FROM minhash;"
            "INSERT INTO lsh_buckets SELECT j.value >> 48, j.value & 281474976710655, m.doc_id "
            "FROM minhash m, json_each(m.band_keys) j;"
            "DROP TABLE minhash; DROP TABLE lsh;"
        )
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        assert _lsh_rows(tmp_path / "kb") == (2 * bands, 2)
        assert kb.ingest([Document("d", third.replace("four hours", "three hours"))]).items[0].code \
            is SkipCode.NEAR_DUPLICATE
        assert kb.ingest([Document("e", near)]).items[0].outcome is Outcome.ADDED  # a's old bands are gone
