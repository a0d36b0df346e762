package dev.pdserve.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.AdditionOperator;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.TreeBuilder;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.de.odysseus.el.misc.TypeConverter;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ELException;
import jinjava.javax.el.ExpressionFactory;

import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jinjava made to read chat templates as Jinja does where Jinjava differs and templates care:
 * <ul>
 * <li>{@code not} negates a whole comparison. Jinjava binds it to the next operand, so
 * {@code not x is defined} meant {@code (not x) is defined}; templates rely on Jinja's reading
 * ({@code {% if not add_generation_prompt is defined %}}, {@code {% if not tools|length == 1 %}}).
 * <li>{@code 'text' + none} is an error, as in Python, instead of Jinjava's {@code "textnull"}: a message
 * whose content is null must not render as the word "null".
 * <li>{@code xs[::-1]} (reversed copy) works; Jinjava slices have no step.
 * </ul>
 */
final class JinjaEngine extends Jinjava {
    private final ExpressionFactory expressions;

    JinjaEngine(JinjavaConfig config) {
        super(config);
        Properties properties = new Properties();
        properties.setProperty(TreeBuilder.class.getName(), JinjaSyntax.class.getName());
        this.expressions = new ExpressionFactoryImpl(properties, new TruthyTypeConverter());
    }

    @Override
    public ExpressionFactory getExpressionFactory() {
        return expressions != null ? expressions : super.getExpressionFactory(); // null while super() runs
    }

    /** Jinjava's expression syntax with {@link JinjaParser}; public because the EL factory creates it by name. */
    public static final class JinjaSyntax extends ExtendedSyntaxBuilder {
        public JinjaSyntax() {}

        public JinjaSyntax(Builder.Feature... features) { super(features); }

        @Override
        protected Parser createParser(String expression) { return new JinjaParser(this, expression); }
    }

    /** Rewrites {@code name[::-1]} inside tags to {@code (name|reverse|list)}, which Jinjava understands. */
    static String withReversedSlices(String template) {
        if (!template.contains("[::-1]")) return template;
        Matcher tag = TAG.matcher(template);
        StringBuilder out = new StringBuilder();
        while (tag.find()) tag.appendReplacement(out, Matcher.quoteReplacement(REVERSED.matcher(tag.group()).replaceAll("($1|reverse|list)")));
        tag.appendTail(out);
        return out.toString();
    }

    private static final Pattern TAG = Pattern.compile("\\{[{%].*?[}%]\\}", Pattern.DOTALL);
    private static final Pattern REVERSED = Pattern.compile("([A-Za-z_]\\w*(?:\\.[A-Za-z_]\\w*|\\[[^\\[\\]]*\\])*)\\[::-1\\]");

    /** {@code +} refusing None (null or undefined) like Python, else Jinjava's addition and concatenation. */
    static final class StrictPlus extends AdditionOperator {
        static final StrictPlus OP = new StrictPlus();

        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            if (a == null || b == null) {
                throw new ELException("unsupported operand for +: " + typeName(a) + " and " + typeName(b)
                        + " (a value is None or undefined)");
            }
            return super.apply(converter, a, b);
        }

        private static String typeName(Object o) {
            return switch (o) {
                case null -> "None";
                case CharSequence s -> "str";
                case Number n -> "number";
                case Map<?, ?> m -> "dict";
                case Iterable<?> i -> "list";
                default -> o.getClass().getSimpleName();
            };
        }
    }

    static final class JinjaParser extends ExtendedParser {
        JinjaParser(Builder context, String input) { super(context, input); }

        /** {@code not} negates a whole comparison (including {@code is} tests and {@code in}), as in Jinja. */
        @Override
        protected AstNode unary(boolean required) throws Scanner.ScanException, ParseException {
            if (getToken().getSymbol() == Scanner.Symbol.NOT) {
                consumeToken();
                return createAstUnary(eq(true), AstUnary.NOT);
            }
            return super.unary(required);
        }

        @Override
        protected AstBinary createAstBinary(AstNode left, AstNode right, AstBinary.Operator operator) {
            return super.createAstBinary(left, right, operator == AdditionOperator.OP ? StrictPlus.OP : operator);
        }
    }
}
