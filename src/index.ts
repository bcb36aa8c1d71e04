export * from './image';
export * from './ami-from-instance';
export * from './copied-ami';
export * from './governance';
export * from './restored-ami';
export * from './ami-from-snapshot';
export * from './imported-ami';
export * from './stored-ami';
