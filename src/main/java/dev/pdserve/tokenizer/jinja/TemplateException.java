package dev.pdserve.tokenizer.jinja;

/**
 * A template that cannot be parsed or rendered. {@link #raisedByTemplate()} tells the template's own
 * {@code raise_exception(message)}: it refuses the conversation, and {@code getMessage()} is its message.
 */
public final class TemplateException extends RuntimeException {
    private final boolean raised;

    private TemplateException(String message, boolean raised) {
        super(message, null, false, false);
        this.raised = raised;
    }

    static TemplateException syntax(String message, int line) {
        return new TemplateException("TemplateSyntaxError: " + message + " (line " + line + ")", false);
    }

    static TemplateException render(String message) { return new TemplateException(message, false); }

    static TemplateException type(String message) { return new TemplateException("TypeError: " + message, false); }

    static TemplateException raised(String message) { return new TemplateException(message, true); }

    public boolean raisedByTemplate() { return raised; }
}
