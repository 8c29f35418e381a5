"""Helpers the test suite shares: real servers, never fakes of them."""
