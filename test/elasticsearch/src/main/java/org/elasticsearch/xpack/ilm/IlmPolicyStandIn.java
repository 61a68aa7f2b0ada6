package org.elasticsearch.xpack.ilm;

import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.support.ActionFilters;
import org.elasticsearch.action.support.HandledTransportAction;
import org.elasticsearch.action.support.master.AcknowledgedResponse;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.metadata.ItemUsage;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.common.Strings;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Setting;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.injection.guice.Inject;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestUtils;
import org.elasticsearch.rest.action.RestChunkedToXContentListener;
import org.elasticsearch.rest.action.RestToXContentListener;
import org.elasticsearch.tasks.Task;
import org.elasticsearch.transport.TransportService;
import org.elasticsearch.xcontent.NamedXContentRegistry;
import org.elasticsearch.xcontent.ParseField;
import org.elasticsearch.xcontent.XContentParser;
import org.elasticsearch.core.CheckedFunction;
import org.elasticsearch.xpack.core.ilm.AllocateAction;
import org.elasticsearch.xpack.core.ilm.DeleteAction;
import org.elasticsearch.xpack.core.ilm.DownsampleAction;
import org.elasticsearch.xpack.core.ilm.ForceMergeAction;
import org.elasticsearch.xpack.core.ilm.FreezeAction;
import org.elasticsearch.xpack.core.ilm.LifecycleAction;
import org.elasticsearch.xpack.core.ilm.LifecyclePolicy;
import org.elasticsearch.xpack.core.ilm.LifecycleType;
import org.elasticsearch.xpack.core.ilm.MigrateAction;
import org.elasticsearch.xpack.core.ilm.ReadOnlyAction;
import org.elasticsearch.xpack.core.ilm.RolloverAction;
import org.elasticsearch.xpack.core.ilm.SearchableSnapshotAction;
import org.elasticsearch.xpack.core.ilm.SetPriorityAction;
import org.elasticsearch.xpack.core.ilm.ShrinkAction;
import org.elasticsearch.xpack.core.ilm.TimeseriesLifecycleType;
import org.elasticsearch.xpack.core.ilm.UnfollowAction;
import org.elasticsearch.xpack.core.ilm.WaitForSnapshotAction;
import org.elasticsearch.xpack.core.ilm.LifecycleSettings;
import org.elasticsearch.xpack.core.ilm.action.GetLifecycleAction;
import org.elasticsearch.xpack.core.ilm.action.ILMActions;
import org.elasticsearch.xpack.core.ilm.action.PutLifecycleRequest;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Stand-in for the index lifecycle module (x-pack-ilm, not on Maven Central): its index and cluster settings, and the
 * policy API `PUT` / `GET _ilm/policy/<name>` under ILM's own action names, so that security authorizes them with the
 * real privileges (manage_ilm, read_ilm). A policy is parsed and validated by x-pack-core's own LifecyclePolicy
 * parser and TimeseriesLifecycleType rules, then kept in this node's memory; nothing executes it.
 */
public class IlmPolicyStandIn extends Plugin implements ActionPlugin {

    private static final Map<String, LifecyclePolicy> POLICIES = new ConcurrentHashMap<>();

    /** The lifecycle actions and type that ILM's own plugin registers for its policy parser. */
    @Override
    public List<NamedXContentRegistry.Entry> getNamedXContent() {
        return List.of(
            new NamedXContentRegistry.Entry(LifecycleType.class, new ParseField(TimeseriesLifecycleType.TYPE), p -> TimeseriesLifecycleType.INSTANCE),
            action(AllocateAction.NAME, AllocateAction::parse),
            action(DeleteAction.NAME, DeleteAction::parse),
            action(ForceMergeAction.NAME, ForceMergeAction::parse),
            action(ReadOnlyAction.NAME, ReadOnlyAction::parse),
            action(RolloverAction.NAME, RolloverAction::parse),
            action(ShrinkAction.NAME, ShrinkAction::parse),
            action(FreezeAction.NAME, FreezeAction::parse),
            action(SetPriorityAction.NAME, SetPriorityAction::parse),
            action(UnfollowAction.NAME, UnfollowAction::parse),
            action(WaitForSnapshotAction.NAME, WaitForSnapshotAction::parse),
            action(SearchableSnapshotAction.NAME, SearchableSnapshotAction::parse),
            action(MigrateAction.NAME, MigrateAction::parse),
            action(DownsampleAction.NAME, DownsampleAction::parse)
        );
    }

    private static NamedXContentRegistry.Entry action(String name, CheckedFunction<XContentParser, ? extends LifecycleAction, IOException> parse) {
        return new NamedXContentRegistry.Entry(LifecycleAction.class, new ParseField(name), parse::apply);
    }

    @Override
    public List<Setting<?>> getSettings() {
        return List.of(
            LifecycleSettings.LIFECYCLE_POLL_INTERVAL_SETTING,
            LifecycleSettings.LIFECYCLE_NAME_SETTING,
            LifecycleSettings.LIFECYCLE_INDEXING_COMPLETE_SETTING,
            LifecycleSettings.LIFECYCLE_HISTORY_INDEX_ENABLED_SETTING,
            LifecycleSettings.LIFECYCLE_STEP_MASTER_TIMEOUT_SETTING,
            LifecycleSettings.LIFECYCLE_STEP_WAIT_TIME_THRESHOLD_SETTING,
            LifecycleSettings.LIFECYCLE_ROLLOVER_ONLY_IF_HAS_DOCUMENTS_SETTING,
            LifecycleSettings.LIFECYCLE_SKIP_SETTING
        );
    }

    @Override
    public List<ActionHandler<? extends ActionRequest, ? extends ActionResponse>> getActions() {
        return List.of(new ActionHandler<>(ILMActions.PUT, PutPolicy.class), new ActionHandler<>(GetLifecycleAction.INSTANCE, GetPolicies.class));
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
        return List.of(new RestPutPolicy(), new RestGetPolicies());
    }

    public static class PutPolicy extends HandledTransportAction<PutLifecycleRequest, AcknowledgedResponse> {
        @Inject
        public PutPolicy(TransportService transportService, ActionFilters actionFilters) {
            super(ILMActions.PUT.name(), transportService, actionFilters, PutLifecycleRequest::new, EsExecutors.DIRECT_EXECUTOR_SERVICE);
        }

        @Override
        protected void doExecute(Task task, PutLifecycleRequest request, ActionListener<AcknowledgedResponse> listener) {
            ActionListener.completeWith(listener, () -> {
                LifecyclePolicy policy = request.getPolicy();
                LifecyclePolicy.validatePolicyName(policy.getName());
                policy.validate();
                POLICIES.put(policy.getName(), policy);
                return AcknowledgedResponse.TRUE;
            });
        }
    }

    public static class GetPolicies extends HandledTransportAction<GetLifecycleAction.Request, GetLifecycleAction.Response> {
        @Inject
        public GetPolicies(TransportService transportService, ActionFilters actionFilters) {
            super(GetLifecycleAction.NAME, transportService, actionFilters, GetLifecycleAction.Request::new, EsExecutors.DIRECT_EXECUTOR_SERVICE);
        }

        @Override
        protected void doExecute(Task task, GetLifecycleAction.Request request, ActionListener<GetLifecycleAction.Response> listener) {
            Set<String> names = request.getPolicyNames().length == 0 ? POLICIES.keySet() : Set.of(request.getPolicyNames());
            List<GetLifecycleAction.LifecyclePolicyResponseItem> items = names.stream()
                .filter(POLICIES::containsKey)
                .map(
                    name -> new GetLifecycleAction.LifecyclePolicyResponseItem(
                        POLICIES.get(name),
                        1,
                        Instant.EPOCH.toString(),
                        new ItemUsage(List.of(), List.of(), List.of())
                    )
                )
                .toList();
            if (items.isEmpty() && request.getPolicyNames().length > 0) {
                listener.onFailure(new org.elasticsearch.ResourceNotFoundException("Lifecycle policy not found: {}", String.join(",", names)));
            } else {
                listener.onResponse(new GetLifecycleAction.Response(items));
            }
        }
    }

    static class RestPutPolicy extends BaseRestHandler {
        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.PUT, "/_ilm/policy/{name}"));
        }

        @Override
        public String getName() {
            return "ilm_put_action_stand_in";
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) throws IOException {
            String name = request.param("name");
            try (XContentParser parser = request.contentParser()) {
                PutLifecycleRequest put = PutLifecycleRequest.parseRequest(new PutLifecycleRequest.Factory() {
                    @Override
                    public PutLifecycleRequest create(LifecyclePolicy policy) {
                        return new PutLifecycleRequest(RestUtils.getMasterNodeTimeout(request), RestUtils.getAckTimeout(request), policy);
                    }

                    @Override
                    public String getPolicyName() {
                        return name;
                    }
                }, parser);
                return channel -> client.execute(ILMActions.PUT, put, new RestToXContentListener<>(channel));
            }
        }
    }

    static class RestGetPolicies extends BaseRestHandler {
        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/_ilm/policy"), new Route(RestRequest.Method.GET, "/_ilm/policy/{name}"));
        }

        @Override
        public String getName() {
            return "ilm_get_action_stand_in";
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            GetLifecycleAction.Request get = new GetLifecycleAction.Request(
                RestUtils.getMasterNodeTimeout(request),
                RestUtils.getAckTimeout(request),
                Strings.splitStringByCommaToArray(request.param("name"))
            );
            return channel -> client.execute(GetLifecycleAction.INSTANCE, get, new RestChunkedToXContentListener<>(channel));
        }
    }
}
