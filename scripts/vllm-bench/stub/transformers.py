"""Stand-in for the few transformers names vLLM's benchmark client imports (no transformers here)."""
from pdserve_tokenizer import PdserveTokenizer, PreTrainedTokenizerBase

PreTrainedTokenizer = PreTrainedTokenizerBase
PreTrainedTokenizerFast = PreTrainedTokenizerBase


class AutoTokenizer:
    @staticmethod
    def from_pretrained(name, *args, **kwargs):
        return PdserveTokenizer(str(name))
