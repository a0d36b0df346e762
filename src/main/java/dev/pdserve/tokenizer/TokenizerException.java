package dev.pdserve.tokenizer;

/** A tokenizer or chat template that cannot be loaded or used; the message names the file and the reason. */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) { super(message); }

    public TokenizerException(String message, Throwable cause) { super(message, cause); }
}
