/**
 * Placeholder until ct-lambda's build lands (issue 12): that change replaces this file with the esbuild bundle of
 * lambdas/cloudtrail-to-kafka/. Same signature, so components/cloudtrail.ts needs no change then.
 */
export async function buildCloudTrailFunction(): Promise<string> {
  throw new Error("cloudtrail-to-kafka: not built yet (the Lambda's build is not merged)");
}
