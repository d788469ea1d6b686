from ragkit.text import split_sentences


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_splits_on_terminal_punctuation_but_not_abbreviations():
    text = "Dr. Smith went home. He saw e.g. a cat! Did it purr? Yes."
    assert _sentences(text) == ["Dr. Smith went home.", "He saw e.g. a cat!", "Did it purr?", "Yes."]


def test_a_quoted_title_or_a_circa_date_does_not_end_a_sentence():
    text = '"Did You Ever See a Lassie?" is a folk song. David Urban (born c. 1964) is a lobbyist. "Help!" he said.'
    assert _sentences(text) == ['"Did You Ever See a Lassie?" is a folk song.', "David Urban (born c. 1964) is a "
                                "lobbyist.", '"Help!" he said.']


def test_splits_paragraphs_list_items_and_chinese_punctuation():
    text = "Intro line\n\nSecond para\n- first item\n- second item\n我爱北京。你好！"
    assert _sentences(text) == ["Intro line", "Second para", "- first item", "- second item", "我爱北京。", "你好！"]


def test_spans_index_into_the_original_text_within_bounds():
    text = "xx. Alpha beta. Gamma. yy"
    spans = split_sentences(text, 4, 22)
    assert [text[a:b] for a, b in spans] == ["Alpha beta.", "Gamma."]
