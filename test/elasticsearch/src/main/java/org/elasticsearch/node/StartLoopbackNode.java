package org.elasticsearch.node;

import joptsimple.OptionSet;

import org.elasticsearch.Build;
import org.elasticsearch.cli.ProcessInfo;
import org.elasticsearch.cli.Terminal;
import org.elasticsearch.common.cli.EnvironmentAwareCommand;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.KeyStoreWrapper;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;
import org.elasticsearch.xpack.core.XPackPlugin;
import org.elasticsearch.xpack.ilm.IlmPolicyStandIn;
import org.elasticsearch.xpack.security.SecurityWithoutSaml;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Starts one real Elasticsearch node, configured the way the official Docker image configures the container: every
 * environment variable that looks like a setting (cluster.name, xpack.security.enabled...) becomes one, by
 * Elasticsearch's own EnvironmentAwareCommand with the Docker build type, and ELASTIC_PASSWORD becomes the keystore's
 * bootstrap.password, as the image's entrypoint does. Runs until the process is told to stop (SIGTERM), then closes
 * the node cleanly. Home and config folder: -Des.path.home, -Des.path.conf.
 */
public class StartLoopbackNode extends EnvironmentAwareCommand {

    /** The distribution's modules and plugins this node has: what Maven Central serves (test/elasticsearch/pom.xml). */
    static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,
        XPackPlugin.class,
        SecurityWithoutSaml.class,
        SecurityIndexAnalysisStandIn.class,
        IlmPolicyStandIn.class,
        PainlessStandIn.class,
        RootEndpointStandIn.class
    );

    private StartLoopbackNode() {
        super("Starts an Elasticsearch node from the classpath");
    }

    public static void main(String[] args) throws Exception {
        // Elasticsearch's logging facade first: Command.main sets its level.
        LogConfigurator.configureESLogging();
        exit(new StartLoopbackNode().main(args, Terminal.DEFAULT, ProcessInfo.fromSystem()));
    }

    @Override
    protected Build.Type getBuildType() {
        return Build.Type.DOCKER;
    }

    @Override
    public void execute(Terminal terminal, OptionSet options, Environment initial, ProcessInfo processInfo) throws Exception {
        Settings.Builder settings = Settings.builder().put(initial.settings());
        String elasticPassword = processInfo.envVars().get("ELASTIC_PASSWORD");
        if (elasticPassword != null && elasticPassword.isEmpty() == false) {
            KeyStoreWrapper keystore = KeyStoreWrapper.create();
            keystore.setString("bootstrap.password", elasticPassword.toCharArray());
            keystore.save(initial.configDir(), new char[0]);
            KeyStoreWrapper saved = KeyStoreWrapper.load(initial.configDir());
            saved.decrypt(new char[0]);
            settings.setSecureSettings(saved);
        }
        Environment environment = new Environment(settings.build(), initial.configDir());
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configureWithoutConfig(environment.settings());

        Node node = new LoopbackNode(environment, PLUGINS);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.prepareForClose();
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }));
        node.start();
        terminal.println("loopback node started");
        closed.await();
    }
}
