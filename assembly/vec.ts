// Arithmetic generic over V = v128 (4 lanes, SIMD builds) or f32 (1 lane, the scalar build), so one
// transform source serves every build. sizeof<V>() is a compile-time constant: only the taken branch
// of each helper is compiled.

@inline export function lanes<V>(): i32 { return sizeof<V>() == 16 ? 4 : 1; }

@inline export function add<V>(a: V, b: V): V {
  if (sizeof<V>() == 16) return f32x4.add(a, b);
  else return a + b;
}
@inline export function sub<V>(a: V, b: V): V {
  if (sizeof<V>() == 16) return f32x4.sub(a, b);
  else return a - b;
}
@inline export function mul<V>(a: V, b: V): V {
  if (sizeof<V>() == 16) return f32x4.mul(a, b);
  else return a * b;
}
@inline export function splat<V>(x: f32): V {
  if (sizeof<V>() == 16) return f32x4.splat(x);
  else return x;
}
/** max(x, 0) with NaN kept, as PyTorch's relu. */
@inline export function relu<V>(x: V): V {
  if (sizeof<V>() == 16) return f32x4.pmax(x, f32x4.splat(0));
  else return x < 0 ? <V>0 : x;
}
/** min(x, 6) with NaN kept, as torch.clamp: after relu, ReLU6. */
@inline export function min6<V>(x: V): V {
  if (sizeof<V>() == 16) return f32x4.pmin(x, f32x4.splat(6));
  else return x > <V>6 ? <V>6 : x;
}
