/** One cheap round trip to a dependency; throws when it does not answer. */
export interface HealthProbe {
  readonly name: string;
  check(): Promise<void>;
}
