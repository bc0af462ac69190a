#!/usr/bin/env node
// Entry point of the `shoal` command. The TypeScript sources are compiled into dist/ by the
// `prepare` script (npm install / npm ci); run `npm run build` after changing them.
import '../dist/src/main.js';
