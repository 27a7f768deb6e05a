import { useCallback, useEffect, useState } from 'react';
import type { Api } from './api';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (value: T) => void;
}

/** GETs `path` on mount and whenever `path` or `version` changes; a failed reload keeps the last data. */
export function useResource<T>(api: Api, path: string | null, version = 0): Resource<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(path !== null);

  const reload = useCallback(async () => {
    if (path === null) return;
    setLoading(true);
    setError(undefined);
    try {
      setData(await api.get<T>(path));
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, [api, path]);

  useEffect(() => {
    void reload();
  }, [reload, version]);

  return { data, error, loading, reload, setData };
}
