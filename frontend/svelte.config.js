import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  // TypeScript in <script lang="ts">; component styles go to the emitted CSS file (CSP: style-src 'self').
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
};
