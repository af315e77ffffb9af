"""backend: namespaces and coercion, device choice, output conversion, chunking, gap fillers."""

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from gpucluster import _config, backend, config_context, get_config, set_config
from gpucluster.kernels import arrays

from ._helpers import assert_same_kind, to_numpy


def test_lists_become_numpy_and_namespace_is_array_api():
    X = backend.coerce_array([[1, 2], [3, 4]])
    assert isinstance(X, np.ndarray)
    xp = backend.namespace(X)
    assert hasattr(xp, "isdtype") and hasattr(xp, "cumulative_sum")


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.ma.masked_array([[1.0]], mask=[[True]]), "Masked arrays"),
        (np.matrix([[1.0]]), "np.matrix"),
        ("text", "Expected an array"),
        (object(), "Expected an array"),
    ],
    ids=["masked", "matrix", "str", "object"],
)
def test_coerce_rejects_non_arrays(bad, match):
    with pytest.raises(TypeError, match=match):
        backend.coerce_array(bad)


def test_array_kind_and_device(xp):
    a = xp.asarray(np.ones((2, 2)))
    assert backend.array_kind(a) == {"torch-cpu": "torch", "torch-cuda": "torch"}.get(xp.name, xp.name)
    assert backend.device_of(a) == xp.device


def test_resolve_device(monkeypatch):
    X = np.ones((3, 3))
    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    assert backend.resolve_device("auto", X, work=1e15) == "cpu"
    assert backend.resolve_device("cpu", X) == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA GPU is usable"):
        backend.resolve_device("cuda", X)
    with pytest.raises(ValueError, match="device must be one of .*'gpu'"):
        backend.resolve_device("gpu", X)
    monkeypatch.setattr(backend, "gpu_available", lambda: True)
    assert backend.resolve_device("auto", X, work=_config.AUTO_GPU_MIN_WORK / 10) == "cpu"
    assert backend.resolve_device("auto", X, work=_config.AUTO_GPU_MIN_WORK) == "cuda"
    assert backend.resolve_device("cuda", X) == "cuda"
    with config_context(device="cpu"):
        assert backend.resolve_device("auto", X, work=1e15) == "cpu"


def test_cuda_data_without_cupy_gets_a_clear_error(monkeypatch):
    class CudaArray:
        __cuda_array_interface__ = {"shape": (2, 2), "typestr": "<f4", "data": (0, False), "version": 3}

    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    with pytest.raises(RuntimeError, match="X lives on a CUDA device but CuPy is not installed"):
        backend.resolve_device("auto", CudaArray())
    assert backend.resolve_device("cpu", CudaArray()) == "cpu"


def test_to_device_cpu_keeps_host_arrays(xp):
    a = xp.asarray(np.ones((2, 3)))
    if xp.device == "cpu":
        assert backend.to_device(a, "cpu") is a
    else:
        assert isinstance(backend.to_device(a, "cpu"), np.ndarray)


def test_to_output_mirrors_and_forces(xp):
    like_array = xp.asarray(np.zeros((2, 2)))
    like = backend.describe_input(like_array)
    result = np.arange(4.0).reshape(2, 2)
    mirrored = backend.to_output(result, like)
    assert_same_kind(mirrored, like_array)
    np.testing.assert_array_equal(to_numpy(mirrored), result)
    assert isinstance(backend.to_output(mirrored, like, "numpy"), np.ndarray)
    torch = pytest.importorskip("torch")
    forced = backend.to_output(result, like, "torch")
    assert isinstance(forced, torch.Tensor)
    with config_context(output_type="numpy"):
        assert isinstance(backend.to_output(mirrored, like), np.ndarray)
    with pytest.raises(ValueError, match="output_type must be one of"):
        backend.to_output(result, like, "pandas")


def test_config_context_restores_on_exception():
    assert get_config()["device"] == "auto"
    with pytest.raises(KeyError, match="boom"):
        with config_context(device="cpu", output_type="numpy"):
            assert get_config() == {**get_config(), "device": "cpu", "output_type": "numpy"}
            raise KeyError("boom")
    assert get_config()["device"] == "auto" and get_config()["output_type"] == "input"
    with pytest.raises(ValueError, match="device must be one of"):
        set_config(device="npu")
    with pytest.raises(ValueError, match="memory_budget must be a positive number of bytes"):
        set_config(memory_budget=-1)


def test_row_chunk_size_follows_budget():
    with config_context(memory_budget=1000):
        assert backend.row_chunk_size(10_000, bytes_per_row=100) == 10
        assert backend.row_chunk_size(5, bytes_per_row=100) == 5
        assert backend.row_chunk_size(10_000, bytes_per_row=10**6) == 1
    budget = min(backend.HOST_CHUNK_TARGET_BYTES, backend.free_memory("cpu") // 4)
    assert abs(backend.row_chunk_size(10**9, bytes_per_row=8) - budget // 8) <= budget // 800


class FakeOutOfMemory(MemoryError):
    """Stands in for cupy.cuda.memory.OutOfMemoryError, which is a MemoryError."""


def test_for_each_chunk_halves_on_out_of_memory():
    """An allocator that fails above 24 rows: chunks shrink to 16 and every row is processed once."""
    seen = []

    def step(start, stop):
        if stop - start > 24:
            raise FakeOutOfMemory(f"cannot allocate {stop - start} rows")
        seen.extend(range(start, stop))

    final = backend.for_each_chunk(100, 64, step)
    assert final == 16
    assert seen == list(range(100))


def test_for_each_chunk_gives_up_at_one_row_and_passes_other_errors():
    def always_oom(start, stop):
        raise FakeOutOfMemory("no memory at all")

    with pytest.raises(MemoryError, match="no memory at all"):
        backend.for_each_chunk(10, 8, always_oom)

    def broken(start, stop):
        raise ZeroDivisionError(f"rows {start}:{stop}")

    with pytest.raises(ZeroDivisionError, match="rows 0:8"):
        backend.for_each_chunk(10, 8, broken)


def test_is_out_of_memory_recognises_library_errors():
    class OutOfMemoryError(RuntimeError):  # torch.OutOfMemoryError's name
        pass

    assert backend.is_out_of_memory(OutOfMemoryError("CUDA out of memory"))
    assert backend.is_out_of_memory(RuntimeError("[CUDA_ERROR_OUT_OF_MEMORY] out of memory"))
    assert not backend.is_out_of_memory(ValueError("bad value"))


def test_bincount_adds_repeated_labels(xp):
    labels = xp.asarray(np.array([0, 2, 2, 2, 5]))
    weights = xp.asarray(np.array([1.0, 0.5, 0.5, 2.0, 1.0]))
    counts = backend.bincount(labels, weights, minlength=7)
    assert_same_kind(counts, labels)
    np.testing.assert_array_equal(to_numpy(counts), [1, 0, 3, 0, 0, 1, 0])
    np.testing.assert_array_equal(to_numpy(backend.bincount(labels)), [1, 0, 3, 0, 0, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_mean_sums_in_float64(xp, dtype):
    """The mean of rows far from the origin, in X's kind and dtype, within one rounding of
    X's dtype of the float64 mean (a float32 running sum is off by far more)."""
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(300_000, 3)) + 1000.0).astype(dtype)
    mean = backend.column_mean(xp.asarray(X))
    assert_same_kind(mean, xp.asarray(X))
    assert np.dtype(str(mean.dtype).split(".")[-1]) == np.dtype(dtype)
    expected = X.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(to_numpy(mean), expected, rtol=np.finfo(dtype).eps)


def test_scatter_add_rows_adds_repeated_indices(xp):
    target = xp.asarray(np.zeros((3, 2)))
    index = xp.asarray(np.array([1, 1, 0, 1]))
    values = xp.asarray(np.array([[1.0, 2.0], [1.0, 2.0], [5.0, 5.0], [1.0, 0.0]]))
    out = backend.scatter_add_rows(target, index, values)
    assert_same_kind(out, target)
    np.testing.assert_array_equal(to_numpy(out), [[5, 5], [3, 4], [0, 0]])


def test_top_k_breaks_ties_to_lowest_index(xp):
    x = xp.asarray(np.array([3.0, 1.0, 3.0, 0.0, 1.0]))
    assert to_numpy(backend.top_k(x, 3)).tolist() == [3, 1, 4]
    assert to_numpy(backend.top_k(x, 2, largest=True)).tolist() == [0, 2]
    assert to_numpy(backend.top_k(x, 10)).shape == (5,)


def test_unique_counts_sorted(xp):
    values, counts = backend.unique_counts(xp.asarray(np.array([5, 1, 5, 5, -1])))
    assert to_numpy(values).tolist() == [-1, 1, 5]
    assert to_numpy(counts).tolist() == [1, 1, 3]


# --------------------------------------------------------------------------
# Torch tensors: detached on every path, and ordered across streams


def test_requires_grad_tensors_are_detached_on_the_host():
    torch = pytest.importorskip("torch")
    X = torch.ones((3, 2), requires_grad=True)
    placed = backend.to_device(X, "cpu")
    assert isinstance(placed, torch.Tensor) and not placed.requires_grad
    assert placed.data_ptr() == X.data_ptr()  # detach is a view, not a copy
    like = backend.describe_input(X)
    back = backend.asarray_like(X * 2, like)
    assert isinstance(back, torch.Tensor) and not back.requires_grad
    assert not backend.to_output(X * 2, like).requires_grad
    np.testing.assert_array_equal(backend.to_numpy(X), np.ones((3, 2)))


class FakeCupy:
    """Just enough of CuPy's stream API to record what the stream ordering asks for.

    Installed as ``sys.modules["cupy"]``; ``log`` lists the calls in order.
    """

    def __init__(self, current_ptr):
        log = self.log = []
        fake = self

        class ndarray:  # noqa: N801  (CuPy's name, which array_api_compat checks)
            def __init__(self, source):
                self.source = source

        class Stream:
            def __init__(self, ptr):
                self.ptr = ptr

            def wait_event(self, event):
                log.append(("cupy stream waits", self.ptr, event.recorded_on))

        class Event:
            def __init__(self, **kwargs):
                self.recorded_on = None

            def record(self, stream):
                self.recorded_on = stream.ptr
                log.append(("cupy event recorded", stream.ptr))

        class Device:
            def __init__(self, index):
                self.index = index

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        Stream.null = Stream(0)
        ndarray.__module__ = "cupy"
        self.ndarray = ndarray

        def asarray(x):
            log.append(("cupy.asarray", x))
            return ndarray(x)

        self.asarray = asarray
        self.cuda = SimpleNamespace(
            get_current_stream=lambda: Stream(fake.current_ptr),
            Event=Event,
            ExternalStream=Stream,
            Stream=Stream,
            Device=Device,
        )
        self.current_ptr = current_ptr


@pytest.fixture
def fake_streams(monkeypatch):
    """A fake CuPy on stream 7 and torch's current stream faked as stream 5 (device 0)."""
    torch = pytest.importorskip("torch")
    cupy = FakeCupy(current_ptr=7)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    torch_log = cupy.log

    class TorchStream:
        def __init__(self, ptr):
            self.cuda_stream = ptr

        def wait_event(self, event):
            torch_log.append(("torch stream waits", self.cuda_stream, event.recorded_on))

    class TorchEvent:
        recorded_on = None

        def record(self, stream):
            self.recorded_on = stream.cuda_stream
            torch_log.append(("torch event recorded", stream.cuda_stream))

    state = {"torch_ptr": 5}
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: TorchStream(state["torch_ptr"]))
    monkeypatch.setattr(torch.cuda, "default_stream", lambda device=None: TorchStream(0))
    monkeypatch.setattr(torch.cuda, "ExternalStream", lambda ptr, device=None: TorchStream(ptr))
    monkeypatch.setattr(torch.cuda, "Event", TorchEvent)
    return SimpleNamespace(cupy=cupy, torch=torch, state=state, log=cupy.log)


def test_cuda_view_orders_cupy_after_torch_and_detaches(fake_streams):
    torch = fake_streams.torch
    X = torch.ones((2, 2), requires_grad=True)  # stands in for a torch CUDA tensor
    view = arrays.cuda_view(X)
    log = fake_streams.log
    assert log[:2] == [("cupy event recorded", 5), ("cupy stream waits", 7, 5)]
    assert log[2][0] == "cupy.asarray" and log[2][1] is view.source
    assert not view.source.requires_grad and view.source.data_ptr() == X.data_ptr()


def test_no_event_when_torch_and_cupy_share_a_stream(fake_streams):
    fake_streams.state["torch_ptr"] = 7
    arrays.cuda_view(fake_streams.torch.ones(2))
    assert [entry[0] for entry in fake_streams.log] == ["cupy.asarray"]


def test_to_device_cuda_goes_through_the_ordered_detached_view(fake_streams, monkeypatch):
    X = fake_streams.torch.ones((2, 2), requires_grad=True)
    monkeypatch.setattr(backend, "is_cuda_array", lambda x: True)
    placed = backend.to_device(X, "cuda")
    assert isinstance(placed, fake_streams.cupy.ndarray)
    assert not placed.source.requires_grad
    assert ("cupy stream waits", 7, 5) in fake_streams.log


def test_results_handed_to_torch_wait_for_cupy(fake_streams, monkeypatch):
    torch = fake_streams.torch
    result = fake_streams.cupy.ndarray(np.zeros(2))
    handed = []
    monkeypatch.setattr(torch, "as_tensor", lambda arr, device=None: handed.append(arr) or arr)
    like = SimpleNamespace(device=torch.device("cuda", 0))
    monkeypatch.setattr(arrays, "_is_torch", lambda x: x is like)
    arrays.wrap_cuda_like(result, like)
    assert fake_streams.log == [("torch event recorded", 7), ("torch stream waits", 5, 7)]
    assert handed == [result]
    fake_streams.log.clear()
    backend.asarray_like(result, backend.InputLike("torch", torch.device("cuda", 0)))
    assert fake_streams.log == [("torch event recorded", 7), ("torch stream waits", 5, 7)]


@pytest.mark.gpu
def test_torch_cuda_requires_grad_through_to_device_and_back():
    torch = pytest.importorskip("torch")
    X = torch.arange(6.0, device="cuda").reshape(3, 2).requires_grad_()
    placed = backend.to_device(X, "cuda")
    assert backend.array_kind(placed) == "cupy"
    assert int(placed.data.ptr) == X.data_ptr()
    back = backend.asarray_like(placed * 2, backend.describe_input(X))
    assert back.device.type == "cuda" and not back.requires_grad
    np.testing.assert_array_equal(back.cpu().numpy(), 2 * np.arange(6.0).reshape(3, 2))
    assert isinstance(backend.to_device(X, "cpu"), np.ndarray)


@pytest.mark.gpu
def test_torch_side_stream_work_is_finished_before_cupy_reads_it():
    torch = pytest.importorskip("torch")
    side = torch.cuda.Stream()
    base = torch.rand((4096, 4096), device="cuda")
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        # Long work queued on torch's stream, read right after by CuPy on its own.
        X = base
        for _ in range(20):
            X = X @ base / 4096
        X = X.requires_grad_()
        total = float(backend.to_device(X, "cuda").sum())
    torch.cuda.synchronize()
    assert total == pytest.approx(float(X.detach().sum()), rel=1e-4)
