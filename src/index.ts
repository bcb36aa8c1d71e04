export * from './image';
export * from './ami-from-instance';
