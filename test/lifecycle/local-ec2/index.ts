/**
 * An in-process imitation of the Amazon EC2 Query API (plus CloudFormation
 * DescribeStacks) that the REAL AWS SDK v3 clients talk to over HTTP.
 *
 * Lifecycle tests point `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL_CLOUDFORMATION`
 * (or a client's `endpoint`) at it and then script what the "service" does:
 * how many polls an image stays pending, whether it fails, eventual-consistency
 * NotFound answers, throttling and 5xx faults, EC2's ResourceLimitExceeded while
 * the Region has no capacity for another image operation, and a proxy's HTML 502
 * in front of the service. Everything is driven by call
 * counts rather than wall-clock time so tests are deterministic and fast.
 *
 * Besides instances (with their console output, GetConsoleOutput, and scripted behaviour of their own:
 * tagging themselves, writing to the console, shutting down), images, snapshots and their attributes
 * it covers RegisterImage, storing and
 * restoring AMIs through a simulated S3 (one per account: buckets are global, objects keyed by bucket
 * and key) with CreateStoreImageTask / DescribeStoreImageTasks / CreateRestoreImageTask and S3's own
 * DeleteObject (REST, `AWS_ENDPOINT_URL_S3`), SSM Parameter Store per account and region (PutParameter, GetParameter,
 * DeleteParameter, ListTagsForResource; awsJson1_1, `AWS_ENDPOINT_URL_SSM`, with the asynchronous
 * validation of `aws:ec2:image` values against the region's images), and VM
 * Import (ImportImage / DescribeImportImageTasks / CancelImportTask, and ImportSnapshot /
 * DescribeImportSnapshotTasks for single disks, whose snapshot is untagged). Tasks, like images, advance
 * by the polls that observe them (`storeBehaviour`, `importBehaviour`, `snapshotImportBehaviour`). Image settings: ImdsSupport
 * (only `v2.0`, never taken back), DisableImage / EnableImage (a disabled image is private, cannot be
 * shared, and DescribeImages hides it unless `IncludeDisabled`), and DescribeImageReferences for
 * instances and launch templates (`addInstance({ imageId })`, `addLaunchTemplate`). EC2 Fast Launch
 * (EnableFastLaunch / DescribeFastLaunchImages / DisableFastLaunch) for Windows images, whose states
 * advance by the DescribeFastLaunchImages polls that observe them (`fastLaunchBehaviour`).
 *
 * Wire formats follow the real services, checked against what the SDK sends and
 * what its ec2Query / awsQuery deserializers read (see the `*.test.ts` files of this folder).
 * Where the real service's error code or message is not documented, the choice is marked
 * "best knowledge" next to it.
 *
 * The modules of this folder, each with its conformance tests (`<module>.test.ts`, setup in `conformance.ts`):
 * - `endpoint.ts`: `LocalEc2`, the HTTP server: service by SigV4 credential scope, account by access key,
 *   faults, recorded calls; scripting and inspection for tests. `client.ts`: the client-side helpers.
 * - `protocol.ts` (query parameters, XML, response and error documents), `errors.ts`, `faults.ts`,
 *   `world.ts` (state per account and Region), `types.ts` (the public types).
 * - EC2: `ec2.ts` routes each action to its area: `instances.ts`, `images.ts`, `image-settings.ts`,
 *   `snapshots.ts`, `tags.ts`, `store-restore.ts`, `import-image.ts`, `fast-launch.ts`; they share
 *   `ec2-area.ts` (lookups, new images and snapshots), `filters.ts`, `permissions.ts` and `helpers.ts`.
 * - The other services: `s3.ts`, `ssm.ts`, `sts.ts`, `cloudformation.ts`.
 */

export * from './types';
export { LocalEc2 } from './endpoint';
export * from './client';
