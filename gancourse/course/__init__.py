"""Course tooling behind the ``gancourse`` command.

- :mod:`gancourse.course.runner`: execute notebooks with papermill, check, report
- :mod:`gancourse.course.baselines`: baseline files (load, validate, compare, update)
- :mod:`gancourse.course.report`: ``report.json`` / ``report.md`` / stdout summary
- :mod:`gancourse.course.assign`: student versions of the solution notebooks (nbgrader)

Nothing is imported here: ``import gancourse.course.baselines`` stays light.
"""
