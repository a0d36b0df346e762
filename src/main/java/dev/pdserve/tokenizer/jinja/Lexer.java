package dev.pdserve.tokenizer.jinja;

import dev.pdserve.tokenizer.jinja.Token.Kind;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a template into tokens as jinja2's lexer does with {@code trim_blocks} and {@code lstrip_blocks}
 * on: newlines normalised to \n, one trailing newline dropped, {@code -} and {@code +} whitespace
 * control, comments dropped, {@code raw} blocks kept as text.
 */
final class Lexer {
    private static final Pattern RAW_BEGIN = Pattern.compile("\\{%([-+]?)\\s*raw\\s*(-?)%}");
    private static final Pattern RAW_END = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}");
    private static final Pattern NEWLINE = Pattern.compile("\r\n|\r|\n");
    private static final String[] OPERATORS = {"//", "**", "==", "!=", ">=", "<=",
            "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", "|", ",", ".", ":", "=", "<", ">", ";"};

    private final String src;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private int line = 1;
    private boolean lineStarting = true; // the last thing consumed ended a line (lstrip_blocks looks at it)

    private Lexer(String source) {
        String s = NEWLINE.matcher(source).replaceAll("\n");
        this.src = s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    static List<Token> tokenize(String source) {
        Lexer lexer = new Lexer(source);
        lexer.run();
        return lexer.out;
    }

    private void run() {
        while (pos < src.length()) {
            int open = nextTag(pos);
            if (open < 0) { text(src.substring(pos)); pos = src.length(); break; }
            String text = src.substring(pos, open);
            char kind = src.charAt(open + 1);
            char control = open + 2 < src.length() ? src.charAt(open + 2) : 0;
            Matcher raw = RAW_BEGIN.matcher(src).region(open, src.length());
            boolean isRaw = kind == '%' && raw.lookingAt();
            if (control == '-') text = rstrip(text);
            else if (control != '+' && kind != '{') text = lstripBlock(text);
            text(text);
            pos = open + 2 + (control == '-' || control == '+' ? 1 : 0);
            if (isRaw) rawBlock(raw);
            else if (kind == '#') comment();
            else tag(kind == '{');
        }
        out.add(new Token(Kind.EOF, "", line));
    }

    private int nextTag(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    private void text(String t) {
        if (!t.isEmpty()) out.add(new Token(Kind.TEXT, t, line));
        line += count(t);
    }

    /** lstrip_blocks: spaces and tabs between the line's start and a block or comment tag go. */
    private String lstripBlock(String text) {
        int lineStart = text.lastIndexOf('\n') + 1;
        if (lineStart == 0 && !lineStarting) return text;
        for (int i = lineStart; i < text.length(); i++) if (!Py.isSpace(text.charAt(i))) return text;
        return text.substring(0, lineStart);
    }

    private void comment() {
        int end = src.indexOf("#}", pos);
        if (end < 0) throw error("Missing end of comment tag");
        boolean strip = end > pos && src.charAt(end - 1) == '-';
        boolean keep = end > pos && src.charAt(end - 1) == '+';
        line += count(src.substring(pos, end));
        pos = end + 2;
        afterClose(strip, !keep);
    }

    private void rawBlock(Matcher begin) {
        pos = begin.end();
        afterClose(!begin.group(2).isEmpty(), true);
        Matcher end = RAW_END.matcher(src);
        if (!end.find(pos)) throw error("Missing end of raw directive");
        String body = src.substring(pos, end.start());
        if (end.group(1).equals("-")) body = rstrip(body);
        else if (!end.group(1).equals("+")) {
            boolean saved = lineStarting;
            body = lstripBlock(body);
            lineStarting = saved;
        }
        text(body);
        pos = end.end();
        afterClose(end.group(2).equals("-"), !end.group(2).equals("+"));
    }

    /** After a closing delimiter: {@code -} strips the whitespace that follows, trim_blocks one newline. */
    private void afterClose(boolean strip, boolean trimNewline) {
        int start = pos;
        if (strip) {
            while (pos < src.length() && Py.isSpace(src.charAt(pos))) pos++;
        } else if (trimNewline && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
        }
        line += count(src.substring(start, pos));
        lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
    }

    private void tag(boolean variable) {
        out.add(new Token(variable ? Kind.VAR_BEGIN : Kind.BLOCK_BEGIN, variable ? "{{" : "{%", line));
        int depth = 0;
        String close = variable ? "}}" : "%}";
        while (true) {
            if (pos >= src.length()) throw error("unexpected end of template, expected '" + close + "'");
            if (depth == 0) {
                if (src.startsWith("-" + close, pos)) { endTag(variable, 3, true, true); return; }
                if (!variable && src.startsWith("+" + close, pos)) { endTag(false, 3, false, false); return; }
                if (src.startsWith(close, pos)) { endTag(variable, 2, false, !variable); return; }
            }
            char c = src.charAt(pos);
            if (Py.isSpace(c)) {
                if (c == '\n') line++;
                pos++;
            } else if (Character.isDigit(c)) {
                number();
            } else if (Character.isLetter(c) || c == '_') {
                int start = pos;
                while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
                out.add(new Token(Kind.NAME, src.substring(start, pos), line));
            } else if (c == '\'' || c == '"') {
                string(c);
            } else {
                String op = operator();
                if (op.equals("(") || op.equals("[") || op.equals("{")) depth++;
                if (op.equals(")") || op.equals("]") || op.equals("}")) depth--;
                if (depth < 0) throw error("unexpected '" + op + "'");
                out.add(new Token(Kind.OP, op, line));
            }
        }
    }

    private void endTag(boolean variable, int length, boolean strip, boolean trimNewline) {
        out.add(new Token(variable ? Kind.VAR_END : Kind.BLOCK_END, variable ? "}}" : "%}", line));
        pos += length;
        afterClose(strip, trimNewline);
    }

    private String operator() {
        for (String op : OPERATORS) {
            if (src.startsWith(op, pos)) { pos += op.length(); return op; }
        }
        throw error("unexpected char '" + src.charAt(pos) + "'");
    }

    private void number() {
        int start = pos;
        while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        boolean isFloat = false;
        if (pos + 1 < src.length() && src.charAt(pos) == '.' && Character.isDigit(src.charAt(pos + 1))) {
            isFloat = true;
            pos++;
            while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        }
        Matcher exp = Pattern.compile("[eE][+-]?\\d+").matcher(src).region(pos, src.length());
        if (exp.lookingAt()) { isFloat = true; pos = exp.end(); }
        out.add(new Token(isFloat ? Kind.FLOAT : Kind.INT, src.substring(start, pos).replace("_", ""), line));
    }

    private void string(char quote) {
        StringBuilder s = new StringBuilder();
        int i = pos + 1;
        while (true) {
            if (i >= src.length()) throw error("unexpected end of string");
            char c = src.charAt(i);
            if (c == quote) break;
            if (c == '\\' && i + 1 < src.length()) {
                i = escape(s, i + 1);
                continue;
            }
            s.append(c);
            i++;
        }
        line += count(src.substring(pos, i));
        pos = i + 1;
        out.add(new Token(Kind.STRING, s.toString(), line));
    }

    /** Python's unicode-escape decoding of one escape sequence; returns the index after it. */
    private int escape(StringBuilder s, int i) {
        char e = src.charAt(i);
        switch (e) {
            case 'n' -> s.append('\n');
            case 't' -> s.append('\t');
            case 'r' -> s.append('\r');
            case '\\', '\'', '"' -> s.append(e);
            case 'a' -> s.append('\u0007');
            case 'b' -> s.append('\b');
            case 'f' -> s.append('\f');
            case 'v' -> s.append('\u000b');
            case '0' -> s.append('\0');
            case '\n' -> { }
            case 'x', 'u', 'U' -> {
                int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (i + 1 + n > src.length()) throw error("truncated \\" + e + " escape");
                s.appendCodePoint(Integer.parseInt(src.substring(i + 1, i + 1 + n), 16));
                return i + 1 + n;
            }
            default -> s.append('\\').append(e);
        }
        return i + 1;
    }

    private static String rstrip(String s) {
        int end = s.length();
        while (end > 0 && Py.isSpace(s.charAt(end - 1))) end--;
        return s.substring(0, end);
    }

    private static int count(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) == '\n') n++;
        return n;
    }

    private TemplateException error(String message) {
        return TemplateException.syntax(message, line);
    }
}
