import { preferredMediaType } from '../../shared/http/accept';

/** Content negotiation (RFC 9110 §12.5.1) for routes that answer in more than one media type. */
describe('preferredMediaType', () => {
  const offered = ['application/json', 'application/cloudevents-batch+json'] as const;
  const pick = (accept: string | null) => preferredMediaType(accept, [...offered] as [string, ...string[]]);

  it.each([
    [null, 'application/json'],
    ['', 'application/json'],
    ['application/cloudevents-batch+json', 'application/cloudevents-batch+json'],
    ['Application/CloudEvents-Batch+JSON', 'application/cloudevents-batch+json'],
    ['application/json', 'application/json'],
    ['*/*', 'application/json'],
    ['application/*', 'application/json'],
    ['text/html', 'application/json'],
    // Equal weight: the first offered (the default) wins.
    ['application/json, application/cloudevents-batch+json', 'application/json'],
    ['application/json;q=0.5, application/cloudevents-batch+json', 'application/cloudevents-batch+json'],
    ['application/cloudevents-batch+json;q=0.9, */*;q=0.1', 'application/cloudevents-batch+json'],
    ['application/cloudevents-batch+json;q=0, */*', 'application/json'],
    // The most specific range decides a type's weight, whatever comes first.
    ['*/*;q=1, application/json;q=0.1, application/cloudevents-batch+json;q=0.2', 'application/cloudevents-batch+json'],
    // Malformed parts are ignored, not fatal.
    ['garbage, ;;, application/cloudevents-batch+json;q=abc', 'application/json'],
    ['garbage, application/cloudevents-batch+json', 'application/cloudevents-batch+json'],
  ])('Accept: %j -> %s', (accept, expected) => {
    expect(pick(accept)).toBe(expected);
  });
});
