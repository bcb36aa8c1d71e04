import { AmiFromInstance } from '../src';
import { newStack } from './util';

// Run against the minimum and the latest aws-cdk-lib (the compat task): the
// message is ours on both, whatever aws-cdk-lib's own error classes do.
test('a synth-time error carries exactly the message cdk-ami wrote, and the construct path apart', () => {
  const stack = newStack();
  let error: unknown;
  try {
    new AmiFromInstance(stack, 'Image', { instanceId: 'i-0123456789abcdef0', imageName: 'ab' });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Error);
  const { message, name, constructPath } = error as Error & { constructPath: string };
  expect(message).toBe(
    'imageName "ab" is not a valid AMI name: it must be 3 to 128 characters of letters, digits, spaces and ( ) [ ] . / - \' @ _ (got 2 characters).');
  expect(name).toBe('AmiValidationError');
  expect(constructPath).toBe('TestStack/Image');
});
