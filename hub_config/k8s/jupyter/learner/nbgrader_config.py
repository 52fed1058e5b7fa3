# Generated from hub_config/course.yaml; edits are overwritten at hub start.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = 'fj-course'
c.ServiceExchange.service_url = 'http://fj-exchange:8080/services/fj-exchange/'
c.ExchangeFactory.fetch_assignment = 'hub_config.exchange.client.ExchangeFetchAssignment'
c.ExchangeFactory.fetch_feedback = 'hub_config.exchange.client.ExchangeFetchFeedback'
c.ExchangeFactory.release_assignment = 'hub_config.exchange.client.ExchangeReleaseAssignment'
c.ExchangeFactory.release_feedback = 'hub_config.exchange.client.ExchangeReleaseFeedback'
c.ExchangeFactory.list = 'hub_config.exchange.client.ExchangeList'
c.ExchangeFactory.submit = 'hub_config.exchange.client.ExchangeSubmit'
c.ExchangeFactory.collect = 'hub_config.exchange.client.ExchangeCollect'
