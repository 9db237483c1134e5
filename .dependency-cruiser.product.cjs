/**
 * The product graph (no tests, fixtures or tools): no folder imports back into one that imports
 * it, e.g. videos -> playback -> videos. Run by `npm run lint` after .dependency-cruiser.cjs.
 */
const base = require("./.dependency-cruiser.cjs");

module.exports = {
  forbidden: [
    {
      name: "no-circular-folders",
      comment: "A folder that imports another must not be imported back by it, directly or through others.",
      severity: "error",
      scope: "folder",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    ...base.options,
    exclude: { path: `${base.options.exclude.path}|\\.test\\.ts$|/test/` },
  },
};
