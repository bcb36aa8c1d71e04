/**
 * Every handler module's declared calls (its exported CALLS), by module path
 * under lambda/. The handler tests fail on a command no module declares
 * (helpers.ts), and test/iam simulates each declared call.
 */
import * as builderSetup from '../../lambda/builder-setup';
import * as copy from '../../lambda/copy';
import * as fromInstance from '../../lambda/from-instance';
import * as fromSnapshot from '../../lambda/from-snapshot';
import * as importImage from '../../lambda/import';
import * as importSnapshots from '../../lambda/import-snapshots';
import * as restore from '../../lambda/restore';
import * as retention from '../../lambda/retention';
import * as s3Objects from '../../lambda/s3-objects';
import { ApiCall } from '../../lambda/shared/calls';
import * as clients from '../../lambda/shared/clients';
import * as crossAccount from '../../lambda/shared/cross-account';
import * as images from '../../lambda/shared/images';
import * as importTasks from '../../lambda/shared/import-tasks';
import * as references from '../../lambda/shared/references';
import * as removal from '../../lambda/shared/removal';
import * as snapshotImportTasks from '../../lambda/shared/snapshot-import-tasks';
import * as ssmParameters from '../../lambda/ssm-parameters';
import * as store from '../../lambda/store';
import * as fastLaunch from '../../lambda/waiter/fast-launch';
import * as governance from '../../lambda/waiter/governance';
import * as importWaiter from '../../lambda/waiter/import-waiter';
import * as snapshotImportWaiter from '../../lambda/waiter/snapshot-import-waiter';
import * as waiter from '../../lambda/waiter/waiter';

export const DECLARED_CALLS: Record<string, readonly ApiCall[]> = {
  'builder-setup.ts': builderSetup.CALLS,
  'copy.ts': copy.CALLS,
  'from-instance.ts': fromInstance.CALLS,
  'from-snapshot.ts': fromSnapshot.CALLS,
  'import.ts': importImage.CALLS,
  'waiter/import-waiter.ts': importWaiter.CALLS,
  'import-snapshots.ts': importSnapshots.CALLS,
  'waiter/snapshot-import-waiter.ts': snapshotImportWaiter.CALLS,
  'restore.ts': restore.CALLS,
  'retention.ts': retention.CALLS,
  's3-objects.ts': s3Objects.CALLS,
  'ssm-parameters.ts': ssmParameters.CALLS,
  'store.ts': store.CALLS,
  'waiter/waiter.ts': waiter.CALLS,
  'waiter/fast-launch.ts': fastLaunch.CALLS,
  'shared/clients.ts': clients.CALLS,
  'shared/cross-account.ts': crossAccount.CALLS,
  'waiter/governance.ts': governance.CALLS,
  'shared/images.ts': images.CALLS,
  'shared/import-tasks.ts': importTasks.CALLS,
  'shared/references.ts': references.CALLS,
  'shared/snapshot-import-tasks.ts': snapshotImportTasks.CALLS,
  'shared/removal.ts': removal.CALLS,
};

export const ALL_DECLARED_CALLS: ReadonlySet<string> = new Set(Object.values(DECLARED_CALLS).flat());

/** The IAM action of an SDK v3 command sent by a client of `service` (CopyImageCommand → ec2:CopyImage). */
export function actionOf(service: string, command: object): string {
  return `${service}:${command.constructor.name.replace(/Command$/, '')}`;
}
