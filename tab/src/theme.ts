import { teamsDarkTheme, teamsHighContrastTheme, webLightTheme, type Theme } from '@fluentui/react-components';
import type { ThemeName } from './host';

export const THEMES: Record<ThemeName, Theme> = {
  default: webLightTheme,
  dark: teamsDarkTheme,
  contrast: teamsHighContrastTheme,
};
