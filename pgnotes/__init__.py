"""pgnotes: policy gradients and evolution strategies, the executable companion of the course.

Fitness and return are **maximized** everywhere in this package (the RL convention).
Randomness is always explicit: functions take ``rng: numpy.random.Generator`` or ``seed``.
"""

__version__ = "0.1.0"
