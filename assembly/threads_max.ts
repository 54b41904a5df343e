// Most threads one call can be split across: 1 in builds without threads.
export const MAX_THREADS: i32 = ASC_FEATURE_THREADS ? 64 : 1;
