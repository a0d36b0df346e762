from pdserve_tokenizer import PdserveTokenizer as TokenizerLike, get_tokenizer  # noqa: F401
