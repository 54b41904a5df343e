// Compile-time strides. A kernel specialised by passing a literal stride to an @inline function is
// merged back into one generic copy by Binaryen's -O3 (it hoists the differing constants into a
// select), which leaves a stride test in every inner loop. A type parameter makes the compiler emit
// one function per stride instead: the marker type's size is the stride, and `stepOf<T>(runtime)`
// folds to a constant for the two common strides.
export type Step1 = u8;   // stride 1: contiguous vector loads
export type Step2 = u16;  // stride 2: two loads and an even-lane shuffle
export type StepN = u64;  // any other stride: read at run time

@inline export function stepOf<T>(runtime: i32): i32 {
  if (sizeof<T>() == 1) return 1;
  if (sizeof<T>() == 2) return 2;
  return runtime;
}
