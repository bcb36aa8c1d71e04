/**
 * An answer that is not an AWS error document (a proxy's HTML page, an empty
 * 5xx) reaches the stack event as one sentence naming the HTTP status, not as
 * the SDK's "Unknown" or its XML parser's complaint.
 */
import { awsError, expectOneLine } from './helpers';
import { toAmiError } from '../../lambda/shared/errors';

/** What the SDK throws when the body has no error code it can read (seen with an empty or HTML 502). */
function unknownError(status: number): Error {
  return Object.assign(new Error('Unknown'), { name: 'Unknown', $fault: 'server', $metadata: { httpStatusCode: status } });
}

/** What the SDK throws when its XML parser fails on the body. */
function parserError(status: number, contentType?: string): Error {
  const err = Object.assign(
    new Error('@aws-sdk XML parse error: unexpected content.\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.'),
    { $metadata: { httpStatusCode: status } },
  );
  Object.defineProperty(err, '$response', { enumerable: false, value: { statusCode: status, headers: contentType ? { 'content-type': contentType } : {} } });
  return err;
}

test.each([
  ['an HTML 502 the parser rejects', parserError(502, 'text/html; charset=utf-8'), 'HTTP 502 Bad Gateway with a text/html body'],
  ['a 502 without an error code', unknownError(502), 'HTTP 502 Bad Gateway with a body'],
  ['a 504 from a load balancer', unknownError(504), 'HTTP 504 Gateway Timeout with a body'],
])('%s becomes one sentence naming the status', (_, err, status) => {
  const amiError = toAmiError(err, 'Deregistering image ami-1 in us-east-1');
  expect(amiError.message).toBe(
    `Deregistering image ami-1 in us-east-1 failed: the endpoint answered ${status} that is not an AWS error, as a proxy or load balancer between the function and the service does when it cannot reach it; retry later, and check the network path (VPC endpoint, proxy) if it persists.`,
  );
  expect(amiError.message).not.toMatch(/Deserialization|XML parse|Unknown/);
  expectOneLine(amiError);
});

test('a real EC2 error keeps its code and message', () => {
  const err = Object.assign(awsError('InvalidAMIID.NotFound', "The image id '[ami-1]' does not exist"), { $metadata: { httpStatusCode: 400 } });
  expect(toAmiError(err, 'Reading image ami-1').message).toBe("Reading image ami-1 failed: InvalidAMIID.NotFound: The image id '[ami-1]' does not exist");
});
