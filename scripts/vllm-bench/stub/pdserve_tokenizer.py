"""A transformers-like tokenizer for vLLM's benchmark client, backed by a pdserve (or vLLM) server.

vLLM's `bench serve` needs only a few tokenizer calls: encode/decode to build random prompts, the vocabulary
size and special ids, and how many special tokens the server adds. Encoding and decoding go to the server's
/tokenize and /detokenize, so the prompts are counted by the very tokenizer that serves them; the vocabulary
facts come from the model folder's tokenizer.json.
"""
import json
import os
import urllib.request


class Encoding:
    def __init__(self, input_ids):
        self.input_ids = input_ids


class PreTrainedTokenizerBase:
    """The name vLLM's code imports from transformers; only used for type hints there."""


class PdserveTokenizer(PreTrainedTokenizerBase):
    def __init__(self, name_or_path, base_url=None):
        self.name_or_path = name_or_path
        self.base_url = (base_url or os.environ.get("PDSERVE_TOKENIZER_URL", "http://127.0.0.1:8000")).rstrip("/")
        path = name_or_path if name_or_path.endswith(".json") else os.path.join(name_or_path, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        self.vocab_size = len(spec["model"]["vocab"])
        self.all_special_ids = sorted(t["id"] for t in spec.get("added_tokens", []) if t.get("special"))
        self._added = len({t["id"] for t in spec.get("added_tokens", [])} - set(spec["model"]["vocab"].values()))
        self._num_special = None

    def _post(self, path, body):
        req = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)

    def encode(self, text, add_special_tokens=True, **kwargs):
        return self._post("/tokenize", {"prompt": text, "add_special_tokens": add_special_tokens})["tokens"]

    def decode(self, ids, skip_special_tokens=False, **kwargs):
        return self._post("/detokenize", {"tokens": [int(i) for i in ids]})["prompt"]

    def __call__(self, text, add_special_tokens=True, **kwargs):
        if isinstance(text, list):
            return Encoding([self.encode(t, add_special_tokens) for t in text])
        return Encoding(self.encode(text, add_special_tokens))

    def num_special_tokens_to_add(self, pair=False):
        if self._num_special is None:
            self._num_special = len(self.encode("", add_special_tokens=True))
        return self._num_special

    def get_vocab(self):
        raise NotImplementedError("the pdserve tokenizer shim has no vocabulary table")

    def __len__(self):
        return self.vocab_size + self._added


def get_tokenizer(tokenizer_name, *args, **kwargs):
    return PdserveTokenizer(str(tokenizer_name))
