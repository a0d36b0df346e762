package dev.pdserve.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.TreeBuilder;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ExpressionFactory;

import java.util.Properties;

/**
 * Jinjava with Jinja's precedence for {@code not}. Jinjava binds {@code not} to the next operand, so
 * {@code not x is defined} means {@code (not x) is defined} and {@code not a == b} means
 * {@code (not a) == b}; Jinja reads both as negating the whole comparison, and chat templates rely on
 * it ({@code {% if not add_generation_prompt is defined %}}, {@code {% if not tools|length == 1 %}}).
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
    }
}
