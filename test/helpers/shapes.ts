import { PROJECT, TEST_CONFIG } from "../setup";

/** The same stack config on the docker target: no AWS key, `target: docker`. */
export const onDocker = (config: Record<string, string>): Record<string, string> => ({
  ...Object.fromEntries(Object.entries(config).filter(([key]) => !key.startsWith("aws:"))),
  [`${PROJECT}:target`]: "docker",
});

/**
 * Stacks of every shape the program builds: each fixture of test/fixtures/urns/ is the URN list one of them
 * registered before the components were reorganised (commit the list of a new shape before a change that moves it).
 */
export const PLATFORM_SHAPES: Record<string, Record<string, string>> = {
  "aws-default": TEST_CONFIG,
  // Two zones of the mocks offer TEST_CONFIG's types: such a stack (created before allowTwoZones) now needs the key.
  "aws-cluster-3-3": { ...TEST_CONFIG, [`${PROJECT}:elasticsearchNodes`]: "3", [`${PROJECT}:kafkaBrokers`]: "3", [`${PROJECT}:allowTwoZones`]: "true" },
  "aws-cloudtrail": { ...TEST_CONFIG, [`${PROJECT}:cloudtrail`]: "true" },
  "docker-default": onDocker(TEST_CONFIG),
};
