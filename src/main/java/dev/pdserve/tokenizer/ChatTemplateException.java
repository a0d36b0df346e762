package dev.pdserve.tokenizer;

/**
 * A chat template that cannot render this conversation: the template refused it
 * ({@code raise_exception}, then the message is the template's own), or failed on it. Caused by the
 * request (its messages, tools, kwargs or template), so the API answers it with a 400.
 */
public final class ChatTemplateException extends TokenizerException {
    private final boolean raisedByTemplate;

    ChatTemplateException(String message, boolean raisedByTemplate) {
        super(message);
        this.raisedByTemplate = raisedByTemplate;
    }

    public boolean raisedByTemplate() { return raisedByTemplate; }
}
