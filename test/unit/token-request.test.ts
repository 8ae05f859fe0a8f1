import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_ID_TOKEN,
  TOKEN_TYPE_JWT,
  audienceOf,
  parseForm,
  parseTokenExchangeRequest,
  type FormParameters,
} from '../../shared/oauth/token-request';

const FORM = 'application/x-www-form-urlencoded';
const form = (text: string): FormParameters => {
  const parsed = parseForm(Buffer.from(text), FORM);
  if (!parsed.ok) throw new Error(parsed.description);
  return parsed.params;
};
const good = `grant_type=${encodeURIComponent(GRANT_TYPE_TOKEN_EXCHANGE)}&subject_token=a.b.c&subject_token_type=${encodeURIComponent(TOKEN_TYPE_JWT)}&audience=acme`;

describe('the token request: happy path', () => {
  it('reads the exchange from a form, charset parameter and unknown parameters aside', () => {
    expect(parseForm(Buffer.from(good), `${FORM}; charset=UTF-8`)).toMatchObject({ ok: true });
    expect(parseTokenExchangeRequest(form(`${good}&scope=ingest&client_id=x`))).toEqual({
      ok: true,
      request: { subjectToken: 'a.b.c', audience: 'acme' },
    });
    expect(
      parseTokenExchangeRequest(form(good.replace(encodeURIComponent(TOKEN_TYPE_JWT), encodeURIComponent(TOKEN_TYPE_ID_TOKEN)))).ok,
    ).toBe(true);
    expect(parseTokenExchangeRequest(form(`${good}&requested_token_type=${encodeURIComponent(TOKEN_TYPE_ACCESS_TOKEN)}`)).ok).toBe(true);
  });

  it('names the audience for the per-customer limit only when it is one slug', () => {
    expect(audienceOf(form(good))).toBe('acme');
    expect(audienceOf(form(`${good}&audience=acme`))).toBeUndefined();
    expect(audienceOf(form('audience=Not%20A%20Slug'))).toBeUndefined();
    expect(audienceOf(form(''))).toBeUndefined();
  });
});

describe('the token request: error path (RFC 6749 §5.2)', () => {
  it.each([
    ['JSON', Buffer.from('{"grant_type":"x"}'), 'application/json'],
    ['no content type', Buffer.from(good), null],
    // Percent-escapes decode leniently; raw bytes that are not UTF-8 are refused.
    ['invalid UTF-8', Buffer.from([0x61, 0x3d, 0xff]), FORM],
  ] as const)('refuses a body that is not a form: %s', (_name, body, type) => {
    expect(parseForm(body, type)).toMatchObject({ ok: false, error: 'invalid_request' });
  });

  it.each([
    ['grant_type missing', good.replace(/^grant_type=[^&]*&/, ''), 'invalid_request'],
    ['another grant', good.replace(/^grant_type=[^&]*/, 'grant_type=authorization_code'), 'unsupported_grant_type'],
    ['a parameter twice', `${good}&subject_token=x`, 'invalid_request'],
    ['scope twice', `${good}&scope=a&scope=b`, 'invalid_request'],
    ['an empty subject_token', good.replace('subject_token=a.b.c', 'subject_token='), 'invalid_request'],
    ['an unknown subject_token_type', good.replace(encodeURIComponent(TOKEN_TYPE_JWT), 'x'), 'invalid_request'],
    ['an actor_token_type alone', `${good}&actor_token_type=${encodeURIComponent(TOKEN_TYPE_JWT)}`, 'invalid_request'],
    ['an access token requested by another name', `${good}&requested_token_type=x`, 'invalid_request'],
    ['an empty audience', good.replace('audience=acme', 'audience='), 'invalid_request'],
    ['a resource', `${good}&resource=https%3A%2F%2Fx`, 'invalid_target'],
    ['an audience of capitals', good.replace('audience=acme', 'audience=ACME'), 'invalid_target'],
    ['two audiences', `${good}&audience=globex`, 'invalid_target'],
  ])('%s: %s', (_name, text, error) => {
    const parsed = parseTokenExchangeRequest(form(text));
    expect(parsed).toMatchObject({ ok: false, error });
    if (!parsed.ok) expect(parsed.description).not.toContain('a.b.c');
  });

  it('checks the grant type before anything else but repeats', () => {
    expect(parseTokenExchangeRequest(form('grant_type=password&audience=NOT'))).toMatchObject({ error: 'unsupported_grant_type' });
  });
});
