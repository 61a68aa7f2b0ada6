package org.elasticsearch.plugins;

import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.plugins.spi.SPIClassIterator;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The plugin service of a node whose plugins are classes on the classpath (the Maven jars) instead of plugin folders,
 * as the test framework's MockPluginsService does. In this package because the plugin records and loaders it builds
 * on are package-private.
 */
public class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> classpathPlugins;

    public ClasspathPluginsService(Settings settings, Path configDir, List<Class<? extends Plugin>> pluginClasses) {
        super(settings, configDir, noPluginFolders());
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> pluginClass : pluginClasses) {
            PluginDescriptor descriptor = new PluginDescriptor(
                pluginClass.getName(),
                "classpath plugin",
                "NA",
                Build.current().version(),
                Integer.toString(Runtime.version().feature()),
                pluginClass.getName(),
                null,
                List.of(),
                false,
                false,
                false,
                false
            );
            Plugin plugin = loadPlugin(pluginClass, settings, configDir);
            loaded.add(new LoadedPlugin(descriptor, plugin, ClasspathPluginsService.class.getClassLoader()));
        }
        loadExtensions(loaded);
        this.classpathPlugins = List.copyOf(loaded);
    }

    /** A loader of no plugin or module folder (its public factory needs the server as a named module, as in the distribution). */
    public static PluginsLoader noPluginFolders() {
        return new PluginsLoader(Set.of(), Set.of(), Map.of());
    }

    @Override
    protected final List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }

    @Override
    public PluginsAndModules info() {
        return new PluginsAndModules(classpathPlugins.stream().map(LoadedPlugin::descriptor).map(PluginRuntimeInfo::new).toList(), List.of());
    }

    /**
     * All plugins share one class loader, so the SPI files of every jar are seen from each plugin: keep one provider per
     * class, and give a provider only to the plugin its one-argument constructor (if any) asks for.
     */
    @Override
    public <T> List<? extends T> loadServiceProviders(Class<T> service) {
        Map<Class<?>, T> providers = new HashMap<>();
        for (LoadedPlugin loaded : plugins()) {
            Plugin plugin = loaded.instance();
            Iterator<Class<? extends T>> classes = SPIClassIterator.get(service, plugin.getClass().getClassLoader());
            while (classes.hasNext()) {
                Class<? extends T> providerClass = classes.next();
                if (providers.containsKey(providerClass)) continue;
                boolean forThisPlugin = true;
                for (var constructor : providerClass.getConstructors()) {
                    if (constructor.getParameterCount() == 1 && constructor.getParameterTypes()[0] != plugin.getClass()) {
                        forThisPlugin = false;
                    }
                }
                if (forThisPlugin) providers.put(providerClass, createExtension(providerClass, service, plugin));
            }
        }
        return List.copyOf(providers.values());
    }
}
