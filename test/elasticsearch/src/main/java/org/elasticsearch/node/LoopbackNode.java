package org.elasticsearch.node;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.List;

/**
 * A real Elasticsearch node whose plugins come from the classpath. In this package because NodeConstruction and
 * NodeServiceProvider, through which a node's plugin service is chosen, are package-private.
 */
class LoopbackNode extends Node {

    LoopbackNode(Environment environment, List<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(environment, ClasspathPluginsService.noPluginFolders(), new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader unused) {
                return new ClasspathPluginsService(env.settings(), env.configDir(), plugins);
            }
        }, true));
    }
}
