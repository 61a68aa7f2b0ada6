package org.elasticsearch.node;

import org.apache.lucene.analysis.core.LowerCaseFilter;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Stand-in for the four pieces of the analysis-common module (not on Maven Central) that the .security index's
 * `email` analyzer names: the uax_url_email tokenizer and the pattern_capture, lowercase and unique filters, each
 * over the Lucene class Elasticsearch's own factory wraps (unique keeps one token per position here, where the module
 * keeps one per stream). Only the security index uses them; the platform's own templates name no analyzer.
 */
public class SecurityIndexAnalysisStandIn extends Plugin implements AnalysisPlugin {

    private static AnalysisProvider<TokenFilterFactory> filter(UnaryOperator<TokenStream> wrap) {
        return (indexSettings, environment, name, settings) -> new TokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream input) {
                return wrap.apply(input);
            }
        };
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "lowercase",
            filter(LowerCaseFilter::new),
            "unique",
            filter(RemoveDuplicatesTokenFilter::new),
            "pattern_capture",
            (indexSettings, environment, name, settings) -> {
                Pattern[] patterns = settings.getAsList("patterns").stream().map(Pattern::compile).toArray(Pattern[]::new);
                boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
                return filter(input -> new PatternCaptureGroupTokenFilter(input, preserveOriginal, patterns)).get(
                    indexSettings,
                    environment,
                    name,
                    settings
                );
            }
        );
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of(
            "uax_url_email",
            (indexSettings, environment, name, settings) -> TokenizerFactory.newFactory(name, UAX29URLEmailTokenizer::new)
        );
    }
}
