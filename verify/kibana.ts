import { checkUserAuth } from "./elasticsearch";
import { excerpt, request } from "./http";
import { StackOutputs } from "./outputs";
import { SavedObjectRef } from "./provisioning";

/** Every provisioned saved object exists under its fixed id (default space), as platform-check sees them. */
export async function kibanaObjects(outputs: StackOutputs, objects: readonly SavedObjectRef[], timeoutMs: number): Promise<string> {
  const missing: string[] = [];
  for (const o of objects) {
    const res = await request("kibana", outputs, `/api/saved_objects/${encodeURIComponent(o.type)}/${encodeURIComponent(o.id)}`, {
      timeoutMs,
      // platform-check reads saved objects (role kibana_reader), nothing else.
      basicAuth: checkUserAuth(outputs),
    });
    if (res.status === 404) missing.push(`${o.type}/${o.id}${o.title ? ` (${o.title})` : ""}`);
    else if (res.status !== 200) throw new Error(`Kibana answered HTTP ${res.status} for ${o.type}/${o.id}: ${excerpt(res.body)}`);
  }
  if (missing.length) {
    throw new Error(`${missing.length} of ${objects.length} saved objects missing: ${missing.join(", ")} (see the kibana-import service's log on the logging host)`);
  }
  return `${objects.length} saved objects present`;
}
