package org.elasticsearch.xpack.security;

import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;

import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * x-pack-security without its SAML actions, whose OpenSAML libraries are not on Maven Central (test/elasticsearch/pom.xml
 * excludes them); no SAML realm is configured, so nothing else reaches them. In an org.elasticsearch.xpack package
 * because only plugins there may install a REST interceptor, which is how security authenticates REST calls.
 */
public class SecurityWithoutSaml extends Security {

    public SecurityWithoutSaml(Settings settings) {
        super(settings);
    }

    private static boolean isSaml(Class<?> type) {
        return type.getPackageName().endsWith(".saml");
    }

    @Override
    public List<ActionHandler<? extends ActionRequest, ? extends ActionResponse>> getActions() {
        return super.getActions().stream().filter(handler -> isSaml(handler.getTransportAction()) == false).toList();
    }

    @Override
    public List<RestHandler> getRestHandlers(
        Settings settings,
        NamedWriteableRegistry namedWriteableRegistry,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return super.getRestHandlers(
            settings,
            namedWriteableRegistry,
            restController,
            clusterSettings,
            indexScopedSettings,
            settingsFilter,
            indexNameExpressionResolver,
            nodesInCluster,
            clusterSupportsFeature
        ).stream().filter(handler -> isSaml(handler.getClass()) == false).toList();
    }
}
