from pdserve_tokenizer import PdserveTokenizer as AnyTokenizer, get_tokenizer  # noqa: F401
