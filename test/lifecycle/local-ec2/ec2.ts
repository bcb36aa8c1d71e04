/**
 * The EC2 Query API (ec2Query protocol): the action table that routes each `Action=` to the area
 * that imitates it. The areas share the lookups of {@link Ec2Area}; each owns its own actions.
 */
import { ActionHandler } from './ec2-area';
import { ApiError } from './errors';
import { FastLaunchActions } from './fast-launch';
import { ImageSettingActions } from './image-settings';
import { ImageActions } from './images';
import { ImportActions } from './import-image';
import { SnapshotImportActions } from './import-snapshot';
import { InstanceActions } from './instances';
import { QueryParams } from './protocol';
import { SnapshotActions } from './snapshots';
import { StoreRestoreActions } from './store-restore';
import { TagActions } from './tags';
import { RegionState, World } from './world';

export class Ec2Api {
  readonly instances: InstanceActions;
  readonly images: ImageActions;
  readonly imageSettings: ImageSettingActions;
  readonly fastLaunch: FastLaunchActions;
  readonly snapshots: SnapshotActions;
  readonly tags: TagActions;
  readonly storeRestore: StoreRestoreActions;
  readonly imports: ImportActions;
  readonly snapshotImports: SnapshotImportActions;
  private readonly handlers: Readonly<Record<string, ActionHandler>>;

  constructor(world: World) {
    this.instances = new InstanceActions(world);
    this.images = new ImageActions(world);
    this.imageSettings = new ImageSettingActions(world);
    this.fastLaunch = new FastLaunchActions(world);
    this.snapshots = new SnapshotActions(world);
    this.tags = new TagActions(world);
    this.storeRestore = new StoreRestoreActions(world);
    this.imports = new ImportActions(world);
    this.snapshotImports = new SnapshotImportActions(world, this.imports.handlers.CancelImportTask);
    this.handlers = Object.assign({},
      this.instances.handlers, this.images.handlers, this.imageSettings.handlers, this.fastLaunch.handlers,
      this.snapshots.handlers, this.tags.handlers, this.storeRestore.handlers, this.imports.handlers, this.snapshotImports.handlers);
  }

  /** The inner XML of the action's response; throws ApiError for service errors. */
  handle(action: string, region: RegionState, params: QueryParams): string {
    const handler = Object.hasOwn(this.handlers, action) ? this.handlers[action] : undefined;
    if (!handler) throw new ApiError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    return handler(region, params);
  }
}
