// The spawner suite on node's child_process backend.
import { spawnSuite } from './suite.js';

spawnSuite('node', false);
