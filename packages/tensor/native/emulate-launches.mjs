// The one source rewrite of the emulated CUDA build (build.mjs; test/cuda-emulator.test.ts):
// `kernel<<<grid, block, shared, stream>>>(args)` becomes
// `::dl_emu::Launch("kernel", grid, block, shared, stream)(kernel, args)`, the emulator's launch
// (native/src/cuda/emu/cuda_runtime.h). The kernel may be a template-id (`k<T, 4>`).
export function emulateLaunches(text) {
  return text.replace(/([A-Za-z_][\w:]*(?:<[^<>;()]*>)?)<<<([^;]*?)>>>\(\s*(\))?/g, (_, kernel, cfg, close) =>
    `::dl_emu::Launch(${JSON.stringify(kernel)}, ${cfg})(${kernel}${close ? ')' : ', '}`);
}
