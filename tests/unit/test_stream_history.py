from services.projector.ops.streams import Sample, StreamHistory


def test_throughput_per_minute_is_the_growth_of_end_offsets():
    history = StreamHistory()
    for minute, total in enumerate([0, 10, 30, 30, 100]):
        history.add(Sample(at=1000 + minute * 60, end_offsets={"t.calls": total}))
    assert history.per_minute("t.calls", minutes=4) == [10.0, 20.0, 0.0, 70.0]


def test_old_samples_fall_out_of_the_window():
    history = StreamHistory(window_seconds=120)
    for minute in range(5):
        history.add(Sample(at=minute * 60, end_offsets={"t.calls": minute}))
    assert [s.at for s in history.samples] == [120, 180, 240]


def test_no_samples_means_no_throughput():
    assert StreamHistory().per_minute("t.calls", minutes=3) == [0.0, 0.0, 0.0]


def test_a_lag_trend_is_the_sampled_total_at_the_end_of_each_minute():
    history = StreamHistory()
    for minute, total in enumerate([50, 40, 70, 0]):
        history.add(Sample(at=1000 + minute * 60, end_offsets={"t.projector": total}))
    assert history.at_each_minute("t.projector", minutes=3) == [40, 70, 0]
    assert StreamHistory().at_each_minute("t.projector", minutes=2) == [0, 0]
