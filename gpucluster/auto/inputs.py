"""Reading user data from disk: the vectors to cluster (an embedding store, .npy, .csv
or .parquet) and labellings (.npy). Every .npy goes through :func:`_read_npy`."""

import csv
import os

import numpy as np

from .. import _format as fmt


def _as_matrix(X, source):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{source}: expected a 2-D array (rows x features), got shape "
                         f"{X.shape}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{source}: the array is empty (shape {X.shape}).")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) \
            or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{source}: expected real numbers, got dtype {X.dtype}.")
    X = X.astype(np.float32)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{source}: contains NaN or infinity (or values beyond float32).")
    return np.ascontiguousarray(X)


_NPY_MAGIC = b"\x93NUMPY"


def _npy_problem(path, exc):
    """What is wrong with the .npy file at ``path`` that np.load refused, in a few words."""
    with open(path, "rb") as handle:
        head = handle.read(len(_NPY_MAGIC))
    if not head:
        return "the file is empty"
    if head != _NPY_MAGIC:
        return "no NumPy header: another kind of file"
    if "pickle" in str(exc):
        return "it holds Python objects, which are never unpickled"
    return " ".join(str(exc).split())


def _read_npy(path):
    """The array in a .npy file, never unpickled; ValueError naming the file otherwise."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as exc:
        # Pickled objects, a file that is not .npy at all, or one cut short. NumPy's
        # own words for the first two advise allow_pickle, which must never be taken.
        raise ValueError(f"{path}: not a plain numeric .npy file ({_npy_problem(path, exc)}).") \
            from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise ValueError(f"{path}: expected a .npy array, got an .npz archive.")
    return array


def _load_npy(path):
    return _as_matrix(_read_npy(path), path)


def _number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


def _load_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row and any(c.strip() for c in row)]
    if not rows:
        raise ValueError(f"{path}: the CSV file has no rows.")
    first = rows[0]
    if any(_number(cell) is None for cell in first):
        rows = rows[1:]  # a header row
        if not rows:
            raise ValueError(f"{path}: the CSV file has a header but no data rows.")
    width = len(rows[0])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"{path}: row {i + 1} of the data has "
                             f"{fmt.counted(len(row), 'column')}, the first has {width}.")
        for j, cell in enumerate(row):
            number = _number(cell)
            if number is None:
                raise ValueError(f"{path}: data row {i + 1}, column {j + 1} is not a number: "
                                 f"{cell!r}.")
            values[i, j] = number
    return _as_matrix(values, path)


def _load_parquet(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"Reading {path} needs the pyarrow package: pip install pyarrow"
        ) from None
    table = pq.read_table(path)
    columns = []
    for name, column in zip(table.column_names, table.columns):
        array = column.to_numpy(zero_copy_only=False)
        if array.dtype == object:
            # A list column (one embedding per row): stack it.
            try:
                array = np.stack([np.asarray(v, dtype=np.float64) for v in array])
            except (TypeError, ValueError):
                raise ValueError(f"{path}: column {name!r} is neither numeric nor a list of "
                                 "numbers.") from None
            columns.append(array)
        elif np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
            columns.append(array.reshape(-1, 1))
        else:
            raise ValueError(f"{path}: column {name!r} has non-numeric type {column.type}.")
    if not columns:
        raise ValueError(f"{path}: the Parquet file has no columns.")
    return _as_matrix(np.hstack(columns), path)


def _under(path, folders):
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def _load_store(path, under=None):
    from ..embed.store import load_store, open_store

    wanted = None
    if under:
        store = open_store(path)
        stored = store.paths("ok")
        # Made absolute as image discovery makes them (not resolved through links),
        # so that a folder selects here the paths `gpucluster run FOLDER` clusters.
        folders = [os.path.abspath(os.fspath(f)) for f in under]
        wanted = [p for p in stored if _under(p, folders)]
        if not wanted:
            raise ValueError(
                f"no image of the embedding store {store.path} lies under "
                f"{', '.join(folders)}; its {fmt.counted(len(stored), 'image')} "
                f"{fmt.word(len(stored), 'lies', 'lie')} {_folders(stored)}.")
    paths, X = load_store(path, paths=wanted)
    if not len(paths):
        raise ValueError(f"{path}: the embedding store holds no embeddings.")
    return _as_matrix(np.asarray(X), path), list(paths)


def _folders(paths, shown=5):
    """Where ``paths`` lie: their common folder, and the counts per sub-folder of it."""
    if not paths:
        return "nowhere (the store holds no embeddings)"
    root = os.path.commonpath(paths)
    if root in paths:  # a single file
        root = os.path.dirname(root)
    counts = {}
    for p in paths:
        first = os.path.relpath(os.path.dirname(p), root).split(os.sep)[0]
        counts[first] = counts.get(first, 0) + 1
    if len(counts) == 1:
        return f"under {root}"
    parts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    named = ", ".join(f"{name if name != '.' else '(the folder itself)'}"
                      f"{os.sep if name != '.' else ''} {n}" for name, n in parts[:shown])
    more = f", and {len(parts) - shown} more" if len(parts) > shown else ""
    return f"under {root} ({len(parts)} folders: {named}{more})"


def describe_selection(path, paths, under=None):
    """One line saying which images of an embedding store are clustered, or None for
    a file of vectors (``paths`` None).

    How many images, from which store folder, and where they lie: all the store's
    images, or those under the ``under`` folders and how many were left out. A store
    is shared by every collection embedded with the same model, so this says what
    is being clustered.
    """
    if paths is None:
        return None
    from ..embed.store import open_store

    store = open_store(path)
    n_stored = store.info()["counts"]["ok"]
    where = _folders(paths)
    if under:
        folders = ", ".join(os.path.abspath(os.fspath(f)) for f in under)
        left = n_stored - len(paths)
        return (f"clustering {fmt.counted(len(paths), 'image')} from the embedding store "
                f"{store.path}: those under {folders} ({fmt.counted(left, 'other image')} of the "
                f"store left out)")
    line = (f"clustering {fmt.counted(len(paths), 'image')} from the embedding store "
            f"{store.path}: every image it holds, {where}")
    if "folders:" in where:
        line += "; --under FOLDER clusters only the images under FOLDER"
    return line


def load_vectors(path, under=None):
    """Read the vectors to cluster.

    Parameters
    ----------
    path : str or path
        An embedding store folder (``gpucluster.embed.store``: a store root
        holding one configuration, or a configuration folder), a ``.npy``
        file (2-D, no pickle), a ``.csv`` file (numbers, optional header
        row) or a ``.parquet`` file (numeric columns and/or list columns;
        needs pyarrow).
    under : list of folders, optional
        For a store: keep only the images under these folders (a store is
        shared by every collection embedded with the same model). Not allowed
        with a file.

    Returns
    -------
    X : ndarray (n_samples, n_features), float32
    paths : list of str or None
        The image path of each row for a store, else None.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        An unknown extension, or content that is not a finite numeric 2-D table;
        ``under`` with a file, or folders no stored image lies under.
    ImportError
        A .parquet file without pyarrow installed.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file or folder: {path}")
    if os.path.isdir(path):
        return _load_store(path, under)
    if under:
        raise ValueError(f"{path}: --under selects images of an embedding store; a file of "
                         "vectors has no image paths.")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".npy":
        return _load_npy(path), None
    if extension == ".csv":
        return _load_csv(path), None
    if extension in (".parquet", ".pq"):
        return _load_parquet(path), None
    raise ValueError(f"{path}: unknown input type {extension or '(no extension)'!r}; expected "
                     "an embedding store folder, .npy, .csv or .parquet.")


def load_labels(path, n_samples=None):
    """Read a labelling: one integer label per row, in a .npy file.

    Parameters
    ----------
    path : str or path
        A ``.npy`` file (no pickle) holding a 1-D integer array.
    n_samples : int or None
        The number of rows the labels must match (the data's), if known.

    Returns
    -------
    labels : ndarray (n_samples,), int64

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a .npy file, pickled or unreadable content, not 1-D, not
        integers, or a length other than ``n_samples``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    if os.path.splitext(path)[1].lower() != ".npy":
        raise ValueError(f"{path}: labels must be a .npy file (one integer per row).")
    labels = _read_npy(path)
    if labels.ndim != 1:
        raise ValueError(f"{path}: expected a 1-D array of labels (one per row), got shape "
                         f"{labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: expected integer labels, got dtype {labels.dtype}.")
    if n_samples is not None and labels.shape[0] != n_samples:
        raise ValueError(f"{path}: {fmt.counted(labels.shape[0], 'label')} for "
                         f"{fmt.counted(n_samples, 'row')} of data.")
    return labels.astype(np.int64)
