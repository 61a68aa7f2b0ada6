package org.elasticsearch.node;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.ScriptPlugin;
import org.elasticsearch.script.ScriptContext;
import org.elasticsearch.script.ScriptEngine;
import org.elasticsearch.script.StringFieldScript;

import java.util.Collection;
import java.util.Map;
import java.util.Set;

/**
 * Stand-in for the lang-painless module (not on Maven Central at this version), so that a mapping with a runtime
 * keyword field is accepted as the real node accepts it: the script's source is taken without being compiled, and
 * running it emits nothing. What the tests prove with it is the mapping (the field exists, with its type and
 * capabilities), never the script's result. Any other script context is refused.
 */
public class PainlessStandIn extends Plugin implements ScriptPlugin {

    @Override
    public ScriptEngine getScriptEngine(Settings settings, Collection<ScriptContext<?>> contexts) {
        return new ScriptEngine() {
            @Override
            public String getType() {
                return "painless";
            }

            @Override
            public <T> T compile(String name, String source, ScriptContext<T> context, Map<String, String> options) {
                if (context != StringFieldScript.CONTEXT) {
                    throw new IllegalArgumentException("the Painless stand-in of the test node takes runtime keyword fields only, not [" + context.name + "]");
                }
                StringFieldScript.Factory factory = (field, params, lookup, onError) -> leaf -> new StringFieldScript(field, params, lookup, onError, leaf) {
                    @Override
                    public void execute() {}
                };
                return context.factoryClazz.cast(factory);
            }

            @Override
            public Set<ScriptContext<?>> getSupportedContexts() {
                return Set.of(StringFieldScript.CONTEXT);
            }

            @Override
            public void close() {}
        };
    }
}
