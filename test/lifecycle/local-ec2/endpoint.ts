/**
 * The endpoint itself: an HTTP server on 127.0.0.1 that tells the services apart by the SigV4 credential
 * scope (and the caller's account by its access key), injects faults, records every call, and answers
 * in each service's wire format. Its methods script and inspect the simulated world for tests.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationApi } from './cloudformation';
import { Ec2Api } from './ec2';
import { ApiError } from './errors';
import { AnswerFault, faultError, FaultPlan, lostAnswer, PROXY_502_BODY } from './faults';
import { newTags } from './helpers';
import type { LocalSnapshotImportTask, SnapshotImportBehaviour } from './import-snapshot';
import { cfnDocument, cfnErrorDocument, credentialScope, ec2Document, ec2ErrorDocument, QueryParams, readBody, Reply, sdkAttempt } from './protocol';
import { S3Api, s3ErrorDocument } from './s3';
import { Json, SsmApi, ssmErrorDocument } from './ssm';
import { StsApi } from './sts';
import { ACCOUNT_ID, AddInstanceOptions, AddLaunchTemplateOptions, AddSnapshotOptions, FastLaunchBehaviour, FaultKind, FaultSpec, ImageBehaviour, ImageBlockPublicAccessState, ImageScript, ImportBehaviour, InstanceScript, InstanceStateName, LaunchTemplateData, LocalImage, LocalImportTask, LocalInstance, LocalLaunchTemplate, LocalParameter, LocalSnapshot, LocalStack, LocalStoreTask, RecordedCall, S3StoredObject, StoreBehaviour, StoredImage } from './types';
import { DEFAULT_FAST_LAUNCH_BEHAVIOUR, s3ObjectId, World } from './world';

/**
 * The local EC2 + CloudFormation (+ S3 DeleteObject, + SSM parameters) endpoint. Start one per test file, `reset()` it between tests.
 *
 * @example
 *   const ec2 = await LocalEc2.start();
 *   const restore = withEndpointEnv(ec2.url);
 *   const instanceId = ec2.addInstance({ region: 'us-east-1' });
 *   ...
 *   restore();
 *   await ec2.stop();
 */
export class LocalEc2 {
  static async start(): Promise<LocalEc2> {
    const endpoint = new LocalEc2();
    await new Promise<void>((resolve, reject) => {
      endpoint.server.once('error', reject);
      endpoint.server.listen(0, '127.0.0.1', () => resolve());
    });
    return endpoint;
  }

  private readonly world = new World();
  private readonly ec2 = new Ec2Api(this.world);
  private readonly cloudFormation = new CloudFormationApi(this.world);
  private readonly ssm = new SsmApi(this.world);
  private readonly faults = new FaultPlan();
  private readonly recorded: RecordedCall[] = [];
  private readonly sts = new StsApi();
  private readonly s3 = new S3Api(this.world);
  private readonly server: http.Server;
  private stopped = false;

  private constructor() {
    this.server = http.createServer((request, response) => {
      this.serve(request, response).catch((error: unknown) => {
        // Only a broken connection gets here; the request can no longer be answered properly.
        response.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /** `http://127.0.0.1:<port>`: use as the clients' `endpoint` or via {@link withEndpointEnv}. */
  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** How images created or copied from now on behave (default: pending for 2 polls, then available). */
  get imageBehaviour(): ImageBehaviour {
    return this.world.imageBehaviour;
  }

  set imageBehaviour(behaviour: ImageBehaviour) {
    this.world.imageBehaviour = { ...behaviour };
  }

  /** How store tasks started from now on progress (default: InProgress for 2 polls, then Completed). */
  get storeBehaviour(): StoreBehaviour {
    return this.world.storeBehaviour;
  }

  set storeBehaviour(behaviour: StoreBehaviour) {
    this.world.storeBehaviour = { ...behaviour };
  }

  /** How import tasks started from now on progress (default: one poll per step, then completed). */
  get importBehaviour(): ImportBehaviour {
    return this.world.importBehaviour;
  }

  set importBehaviour(behaviour: ImportBehaviour) {
    this.world.importBehaviour = { ...behaviour };
  }

  /** How ImportSnapshot tasks started from now on progress (default: one poll per step, then completed). */
  get snapshotImportBehaviour(): SnapshotImportBehaviour {
    return this.world.snapshotImportBehaviour;
  }

  set snapshotImportBehaviour(behaviour: SnapshotImportBehaviour) {
    this.world.snapshotImportBehaviour = { ...behaviour };
  }

  /** New images answer `InvalidAMIID.NotFound` to this many DescribeImages-by-ID calls (default 0). */
  get notFoundAfterCreate(): number {
    return this.world.notFoundAfterCreate;
  }

  set notFoundAfterCreate(calls: number) {
    this.world.notFoundAfterCreate = calls;
  }

  /** Every request received so far, in order (including faulted and failed ones). */
  get calls(): readonly RecordedCall[] {
    return [...this.recorded];
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // The SDK keeps connections alive; without this, close() would wait for them to time out.
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  /** Forgets all resources, stacks, faults and recorded calls, and restores the default behaviours. */
  reset(): void {
    this.world.reset();
    this.faults.clear();
    this.recorded.length = 0;
    this.sts.reset();
  }

  // -- scripting -------------------------------------------------------------

  /** Adds an instance (default: running, one 8 GiB root volume `/dev/xvda`); returns its ID. */
  addInstance(options: AddInstanceOptions): string {
    return this.ec2.instances.addInstance(options).instanceId;
  }

  /** Scripts what an instance does by itself after some DescribeInstances polls of it (tags itself, writes to its console, shuts down). */
  scriptInstance(region: string, instanceId: string, script: InstanceScript): void {
    this.ec2.instances.scriptInstance(region, instanceId, script);
  }

  /** Appends text to an instance's console output at once. */
  writeConsole(region: string, instanceId: string, text: string): void {
    this.ec2.instances.instanceIn(region, instanceId).consoleOutput += text;
  }

  /** Sets an instance's state at once, as CloudFormation or its own shutdown would. */
  setInstanceState(region: string, instanceId: string, state: InstanceStateName): void {
    this.ec2.instances.instanceIn(region, instanceId).state = state;
  }

  /** Adds a launch template (version 1 launches `imageId` with `data`); returns its ID. */
  addLaunchTemplate(options: AddLaunchTemplateOptions): string {
    return this.ec2.imageSettings.addLaunchTemplate(options);
  }

  /** Adds a version to a launch template (as CreateLaunchTemplateVersion); returns its number. */
  addLaunchTemplateVersion(region: string, launchTemplateId: string, data: LaunchTemplateData): string {
    const template = this.launchTemplateIn(region, launchTemplateId);
    template.versions.push({ ...data });
    return String(template.versions.length);
  }

  /**
   * What a version of a launch template launches with, as RunInstances reads it; an unknown template
   * or version fails as EC2 answers RunInstances (InvalidLaunchTemplateId.NotFound, InvalidLaunchTemplateId.VersionNotFound).
   */
  launchTemplateVersion(region: string, launchTemplateId: string, version: string): LaunchTemplateData {
    const data = this.launchTemplateIn(region, launchTemplateId).versions[Number(version) - 1];
    // Best knowledge: the code is in the EC2 error code list; the message is ours.
    if (!data) throw new ApiError('InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${version} for template ${launchTemplateId}.`);
    return { ...data };
  }

  private launchTemplateIn(region: string, launchTemplateId: string): LocalLaunchTemplate {
    const template = this.world.region(region).launchTemplates.get(launchTemplateId);
    if (!template) throw new ApiError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${launchTemplateId}, does not exist.`);
    return template;
  }

  /** Adds a snapshot (default: completed, 8 GiB, unencrypted), e.g. for RegisterImage; returns its ID. */
  addSnapshot(options: AddSnapshotOptions): string {
    return this.ec2.snapshots.addScriptedSnapshot(options).snapshotId;
  }

  /** GetParameter reads that still see the old state after an aws:ec2:image PutParameter (default 0). */
  get parameterValidationReads(): number {
    return this.world.parameterValidationReads;
  }

  set parameterValidationReads(reads: number) {
    this.world.parameterValidationReads = reads;
  }

  /** Seeds a parameter of the region's Parameter Store (of ACCOUNT_ID, or `account`), e.g. one someone else made. */
  putParameter(region: string, parameter: Pick<LocalParameter, 'name' | 'value'> & Partial<LocalParameter>, account = ACCOUNT_ID): void {
    this.ssm.seed(this.world.region(region, account), parameter);
  }

  /** The parameters of the region's Parameter Store (of ACCOUNT_ID, or `account`). */
  parameters(region: string, account = ACCOUNT_ID): LocalParameter[] {
    return structuredClone([...this.world.region(region, account).parameters.values()]);
  }

  /** Pins a bucket of the simulated S3 to a region; CreateStoreImageTask then only accepts it there. */
  setBucketRegion(bucket: string, region: string): void {
    this.world.bucketRegions.set(bucket, region);
  }

  /** Seeds a stored-AMI object, as if CreateStoreImageTask had written it (overwrites like S3). */
  putS3Object(bucket: string, key: string, image: StoredImage, tags: Readonly<Record<string, string>> = {}): void {
    this.ec2.storeRestore.putObject(bucket, key, image, newTags(Object.entries(tags)));
  }

  /** Deletes an object of the simulated S3; returns whether it existed. */
  deleteS3Object(bucket: string, key: string): boolean {
    return this.world.s3.delete(s3ObjectId(bucket, key));
  }

  /** Makes DescribeImportImageTasks forget a task, as EC2 does 7 days after it ends. Throws if there is no such task. */
  expireImportTask(importTaskId: string): void {
    this.ec2.imports.expireImportTask(importTaskId);
  }

  /** How fast launch progresses for later EnableFastLaunch and DisableFastLaunch calls. */
  fastLaunchBehaviour(behaviour: Partial<FastLaunchBehaviour>): void {
    this.world.fastLaunchBehaviour = { ...DEFAULT_FAST_LAUNCH_BEHAVIOUR, ...behaviour };
  }

  /** Overrides how one existing image behaves from now on; polls already made still count. */
  scriptImage(imageId: string, script: ImageScript): void {
    const image = this.world.findImage(imageId);
    if (!image) throw new Error(`No image ${imageId} in any region`);
    const { notFoundCalls, ...behaviour } = script;
    image.behaviour = { ...image.behaviour, ...behaviour };
    if (notFoundCalls !== undefined) image.notFoundCalls = notFoundCalls;
  }

  /** The next `times` calls (of `action`, or of any action) fail with the given fault. Faults queue up in order. */
  injectFault(spec: FaultSpec): void {
    this.faults.add(spec);
  }

  /** Throttles `fraction` of all later calls, chosen by a generator seeded with `seed`: the same seed, the same calls. */
  throttleRate(fraction: number, seed = 1): void {
    this.faults.setRate(fraction, seed);
  }

  /** Sets block public access for AMIs in a region (default `unblocked`), as Enable/DisableImageBlockPublicAccess would. */
  setImageBlockPublicAccess(region: string, state: ImageBlockPublicAccessState): void {
    this.world.region(region).imageBlockPublicAccess = state;
  }

  /**
   * Ends the 24-hour deregistration-protection cooldown of an image (`disabled-until` → `disabled`),
   * as if the time had passed; the endpoint never ends it by itself. Throws if the image is not in one.
   */
  endCooldown(imageId: string): void {
    this.ec2.imageSettings.endCooldown(imageId);
  }

  /** Creates or updates a stack for DescribeStacks; a stack ARN sets its region. Returns the stack ID. */
  setStackStatus(stackIdOrName: string, status: string, region = 'us-east-1'): string {
    return this.cloudFormation.setStatus(stackIdOrName, status, region);
  }

  // -- inspection (copies: changing them does not change the endpoint) --------

  /** All images of the region (of ACCOUNT_ID, or `account`), deregistered ones included. */
  images(region: string, account = ACCOUNT_ID): LocalImage[] {
    return structuredClone([...this.world.region(region, account).images.values()]);
  }

  /** Images of the region (of ACCOUNT_ID, or `account`) that are not deregistered. */
  liveImages(region: string, account = ACCOUNT_ID): LocalImage[] {
    return this.images(region, account).filter((image) => image.state !== 'deregistered');
  }

  /**
   * A role in `roleArn`'s account that callers of `trustedAccounts` may assume (STS AssumeRole);
   * its credentials act for the role's account.
   */
  addRole(roleArn: string, trustedAccounts: readonly string[]): void {
    this.sts.addRole(roleArn, trustedAccounts);
  }

  /** One image, wherever it is. */
  image(imageId: string): LocalImage | undefined {
    const image = this.world.findImage(imageId);
    return image ? structuredClone(image) : undefined;
  }

  /** Snapshots of the region (of ACCOUNT_ID, or `account`) that are not deleted. */
  snapshots(region: string, account = ACCOUNT_ID): LocalSnapshot[] {
    return structuredClone([...this.world.region(region, account).snapshots.values()]);
  }

  /** Block public access for AMIs in the region. */
  imageBlockPublicAccess(region: string): ImageBlockPublicAccessState {
    return this.world.region(region).imageBlockPublicAccess;
  }

  /** Every object of the simulated S3 (all buckets, all regions). */
  s3Objects(): S3StoredObject[] {
    return structuredClone([...this.world.s3.values()]);
  }

  /** Store tasks started in the region, oldest first. */
  storeTasks(region: string): LocalStoreTask[] {
    return structuredClone(this.world.region(region).storeTasks);
  }

  /** ImportSnapshot tasks of the region, oldest first. */
  snapshotImportTasks(region: string): LocalSnapshotImportTask[] {
    return structuredClone(this.ec2.snapshotImports.tasks(this.world.region(region)));
  }

  /** Import tasks of the region that have not expired. */
  importTasks(region: string): LocalImportTask[] {
    return structuredClone([...this.world.region(region).importTasks.values()]);
  }

  instances(region: string): LocalInstance[] {
    return structuredClone([...this.world.region(region).instances.values()]);
  }

  stacks(region: string): LocalStack[] {
    return structuredClone([...this.world.region(region).stacks.values()]);
  }

  /** Requests received, of one action or of all. */
  callCount(action?: string): number {
    return this.recorded.filter((call) => action === undefined || call.action === action).length;
  }

  // -- HTTP --------------------------------------------------------------------

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const body = await readBody(request);
    const scope = credentialScope(request.headers.authorization);
    const requestId = randomUUID();
    let service: RecordedCall['service'];
    let action: string;
    let reply: Reply;
    const account = (scope && this.sts.accountOf(scope.accessKeyId)) ?? ACCOUNT_ID;
    if (scope?.service === 'sts') {
      service = 'sts';
      const params = QueryParams.parse(body, new URL(request.url ?? '/', 'http://localhost').search);
      action = params.get('Action') ?? '';
      reply = this.stsReply(action, account, params, requestId);
    } else if (scope?.service === 's3') {
      service = 's3';
      action = request.method === 'DELETE' ? 'DeleteObject' : `${request.method} (unsupported)`;
      reply = this.s3Reply(action, request.url ?? '/', requestId);
    } else if (scope?.service === 'ssm') {
      service = 'ssm';
      action = String(request.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '');
      reply = this.ssmReply(action, scope.region, body, requestId, account);
    } else {
      const params = QueryParams.parse(body, new URL(request.url ?? '/', 'http://localhost').search);
      service = scope?.service === 'cloudformation' ? 'cloudformation' : 'ec2';
      action = params.get('Action') ?? '';
      reply = scope
        ? this.reply(service, action, scope.region, params, requestId, account)
        : this.errorReply(service, new ApiError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401), requestId);
    }

    this.recorded.push({
      service,
      action,
      region: scope?.region ?? '',
      status: reply.status,
      code: reply.code,
      attempt: sdkAttempt(request.headers['amz-sdk-request']),
      at: Date.now(),
    });
    const defaultType = service === 'ssm' ? 'application/x-amz-json-1.1' : 'text/xml;charset=UTF-8';
    const headers: Record<string, string> = reply.contentType ? { 'Content-Type': reply.contentType } : { 'Content-Type': defaultType, 'x-amzn-RequestId': requestId };
    // The service's clock is the test's (a virtual one under the CloudFormation simulator). Node would
    // send the real time, and the SDK, seeing a skewed clock, would retry the first error it gets.
    headers.Date = new Date(Date.now()).toUTCString();
    response.writeHead(reply.status, headers);
    response.end(reply.body);
  }

  /** S3: DeleteObject answers 204, whether the object existed or not. */
  private s3Reply(action: string, url: string, requestId: string): Reply {
    return this.withFault('s3', action, requestId, () => this.s3Answer(action, url, requestId));
  }

  private s3Answer(action: string, url: string, requestId: string): Reply {
    try {
      this.s3.handle(action, url);
    } catch (error) {
      if (error instanceof ApiError) return this.errorReply('s3', error, requestId);
      throw error;
    }
    return { status: 204, body: '' };
  }

  /** SSM (awsJson1_1): the JSON body in, a JSON document or a `__type` error out; each account has its own Parameter Store. */
  private ssmReply(action: string, regionName: string, body: string, requestId: string, account: string): Reply {
    return this.withFault('ssm', action, requestId, () => this.ssmAnswer(action, regionName, body, requestId, account));
  }

  private ssmAnswer(action: string, regionName: string, body: string, requestId: string, account: string): Reply {
    try {
      const request = body === '' ? {} : JSON.parse(body) as Json;
      return { status: 200, body: JSON.stringify(this.ssm.handle(action, this.world.region(regionName, account), request)) };
    } catch (error) {
      const apiError = error instanceof ApiError
        ? error
        : new ApiError('InternalServerError', `Local endpoint failure: ${error instanceof Error ? error.stack : String(error)}`, 500);
      return this.errorReply('ssm', apiError, requestId);
    }
  }

  private stsReply(action: string, account: string, params: QueryParams, requestId: string): Reply {
    return this.withFault('sts', action, requestId, () => this.stsAnswer(action, account, params, requestId));
  }

  private stsAnswer(action: string, account: string, params: QueryParams, requestId: string): Reply {
    try {
      return { status: 200, body: this.sts.handle(action, account, params, requestId) };
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError('InternalFailure', String(error), 500);
      return this.errorReply('sts', apiError, requestId);
    }
  }

  private reply(service: RecordedCall['service'], action: string, regionName: string, params: QueryParams, requestId: string, account = ACCOUNT_ID): Reply {
    return this.withFault(service, action, requestId, () => this.answer(service, action, regionName, params, requestId, account));
  }

  private answer(service: RecordedCall['service'], action: string, regionName: string, params: QueryParams, requestId: string, account: string): Reply {
    try {
      const region = this.world.region(regionName, account);
      if (service === 'cloudformation') {
        return { status: 200, body: cfnDocument(action, requestId, this.cloudFormation.handle(action, region, params)) };
      }
      return { status: 200, body: ec2Document(action, requestId, this.ec2.handle(action, region, params)) };
    } catch (error) {
      // A bug in this fake still reaches the test, as a 500 with the stack in the message.
      const apiError = error instanceof ApiError
        ? error
        : new ApiError('InternalError', `Local endpoint failure: ${error instanceof Error ? error.stack : String(error)}`, 500);
      return this.errorReply(service, apiError, requestId);
    }
  }

  /**
   * The answer to a call, or the fault injected for it. A fault that lets the call take effect runs
   * it first (whatever it changes stays changed, whatever it refuses stays refused) and then
   * replaces its answer with a 5xx.
   */
  private withFault(service: RecordedCall['service'], action: string, requestId: string, answer: () => Reply): Reply {
    const fault = this.faults.take(action);
    if (!fault) return answer();
    if (lostAnswer(fault)) answer();
    return this.faultReply(service, fault, requestId);
  }

  private faultReply(service: RecordedCall['service'], fault: FaultKind, requestId: string): Reply {
    // A proxy answers for itself: no request ID, no AWS error code.
    if (fault === 'proxy502') return { status: 502, body: PROXY_502_BODY, contentType: 'text/html' };
    return this.errorReply(service, faultError(lostAnswer(fault) ?? (fault as AnswerFault), service), requestId);
  }

  private errorReply(service: RecordedCall['service'], error: ApiError, requestId: string): Reply {
    const document = {
      cloudformation: cfnErrorDocument, ec2: ec2ErrorDocument, s3: s3ErrorDocument, ssm: ssmErrorDocument, sts: cfnErrorDocument,
    }[service];
    const body = document(error, requestId);
    return { status: error.status, body, code: error.code };
  }
}
