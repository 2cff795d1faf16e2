/** The product version every process reports; kept equal to package.json's by a test. */
export const POSTERN_VERSION = '0.1.0';
